# Two commands do all set-up: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
TORCH_PIN := torch==2.13.0
EXAMPLE := projects/digits-paper.h5

.PHONY: run test lint install system venv bench example clean screenshots

# opens the workbench; without a screen it prints a summary of the example project instead
run: install
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		$(PY) -m app --project $(EXAMPLE); \
	else \
		echo "no display (DISPLAY/WAYLAND_DISPLAY unset): printing the example project instead of opening the workbench;"; \
		echo "use 'xvfb-run -a make run' for a virtual screen"; \
		$(VENV)/bin/reram-workbench info $(EXAMPLE); \
	fi

screenshots: install
	QT_QPA_PLATFORM=offscreen $(PY) -m app.screenshots docs/screenshots

test: install lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider tests

# import layers, lint, format and types; part of `make test`
lint: install
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

install: system $(STAMP)

system:
	@bash tools/install_system.sh

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# torch is pinned and installed first so nothing pulls a multi-GB CUDA build
$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_PIN)"
	$(PY) -m pip install -q -e ".[gui,test]" "$(TORCH_PIN)"
	touch $(STAMP)

example: install
	$(PY) -m tools.build_example $(EXAMPLE)

# badcrossbar's pycairo dependency (plots only) does not build everywhere: its solver goes in without it
bench: install
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) -m pip install -q --no-deps "badcrossbar==1.1.0"
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) build *.egg-info
