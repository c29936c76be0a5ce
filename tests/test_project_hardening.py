"""Issue 14: hostile and damaged project files opened in a child process first, allocation bounds checked before
reading, writers that never lose results, saves that survive kill -9 and full disks, per-group digests.

Every test uses real HDF5 files and real processes; nothing is mocked.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import h5py
import numpy as np
import pytest

from core import jobs, project_io
from core.errors import ProjectFormatError, ProjectSaveError
from core.evaluate import evaluate_job
from core.project_io import integrity, probe
from core.project_io.lock import ProjectLockedError, project_lock
from core.session import project_file
from core.session.project_file import FileBase, ProjectChangedError, ProjectWarningsError
from core.session.store import store_result
from project_builders import ROOT, V1_FILE, edit

EXAMPLE = os.path.join(ROOT, "projects", "digits-paper.h5")
CLI = [sys.executable, "-m", "core.cli.main"]


def one_line_error(fn, *args, **kwargs) -> str:
    with pytest.raises(ProjectFormatError) as info:
        fn(*args, **kwargs)
    text = str(info.value)
    assert "\n" not in text and len(text) < 4200, text
    return text


def cli(*args, timeout=120, **kw):
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env, **kw)


# --- 1. the probe in a child process -------------------------------------------------------------------------
def test_probe_opens_the_example_and_costs_little():
    project_io.load(EXAMPLE)  # warm the page cache
    t0 = time.perf_counter()
    plain = [project_io.load(EXAMPLE) for _ in range(3)]
    t_load = (time.perf_counter() - t0) / 3
    t0 = time.perf_counter()
    opened = [project_io.open_project(EXAMPLE) for _ in range(3)]
    t_open = (time.perf_counter() - t0) / 3
    assert all(o.warnings == [] for o in opened)
    assert len(opened[0].project.results) == len(plain[0].results) > 0
    print(f"\nload {t_load * 1e3:.0f} ms, open_project (probe + load) {t_open * 1e3:.0f} ms")
    assert t_open < t_load + 2.0  # the probe (a fork and one read, single-threaded) stays well under a second


def test_probe_from_a_threaded_process_starts_a_fresh_interpreter():
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, daemon=True)
    worker.start()
    try:
        assert not probe._single_threaded()
        assert probe.probe_file(EXAMPLE) == []
    finally:
        stop.set()
        worker.join()


def test_probe_limits_become_one_line_damaged_file_errors(tmp_path):
    # a real CPU limit of 0 s: the kernel sends SIGXCPU to the child, as for a file that costs minutes
    text = one_line_error(probe.probe_file, EXAMPLE, cpu_s=0)
    assert "damaged file" in text and "CPU" in text
    # a real wall-clock timeout: the child is killed
    text = one_line_error(probe.probe_file, EXAMPLE, wall_s=0.001)
    assert "damaged file" in text and "longer than" in text
    # a real address-space limit far below what reading needs
    text = one_line_error(probe.probe_file, EXAMPLE, memory_bytes=2**16)
    assert text.startswith("/")
    # a refusal inside the child is the same error as in-process, path included
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5 at all" * 100)
    assert "not an HDF5 file" in one_line_error(project_io.open_project, str(bad))


def test_probe_reports_a_child_killed_by_a_signal_as_a_crash():
    # no file that crashes this libhdf5 was found (4,000 byte-flipped files); a real child killed by SIGSEGV and
    # SIGABRT gives the exit status the probe maps to its message
    for sig in (signal.SIGSEGV, signal.SIGABRT):
        code, out = _probe_killed_by(sig)
        assert code == -sig
        text = probe._death(code, probe._report(out), 2**30, 60)
        assert "crashed" in text and signal.Signals(sig).name in text


def _probe_killed_by(sig) -> tuple[int, bytes]:
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], stdout=subprocess.PIPE, start_new_session=True
    )
    time.sleep(0.2)
    child.send_signal(sig)
    out, _ = child.communicate(timeout=10)
    return child.returncode, out


def test_cli_refuses_a_damaged_file_in_one_line_with_exit_2(tmp_path):
    bad = tmp_path / "bad.h5"
    data = bytearray(open(EXAMPLE, "rb").read())
    data[len(data) // 2 : len(data) // 2 + 4096] = b"\xff" * 4096
    bad.write_bytes(bytes(data))
    r = cli("info", str(bad), "--json")
    assert r.returncode in (0, 2), r.stderr
    if r.returncode == 2:
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("reram-workbench: error: "), r.stderr
        assert "Traceback" not in r.stderr


# --- 2. allocation bounds, checked before reading -----------------------------------------------------------
def _fast(fn, *args) -> str:
    t0 = time.perf_counter()
    text = one_line_error(fn, *args)
    assert time.perf_counter() - t0 < 10, text
    return text


def test_tiny_chunks_on_a_big_dataset_are_refused(saved):
    def damage(f):
        arrays = f["recoveries"][next(iter(f["recoveries"]))]["arrays"]
        name = next(iter(arrays))
        attrs = dict(arrays[name].attrs)
        del arrays[name]
        ds = arrays.create_dataset(name, data=np.zeros((200, 200)), chunks=(2, 2))
        ds.attrs.update(attrs)

    edit(saved, damage)
    assert "chunks of shape (2, 2)" in _fast(project_io.load, saved)


def test_many_hard_links_are_refused_at_the_first_one(saved):
    def damage(f):
        first = next(iter(f["results"]))
        for i in range(3000):
            f["results"][f"zz-link-{i:05d}"] = f["results"][first]

    edit(saved, damage)
    assert "hard links" in _fast(project_io.load, saved)


def test_many_huge_strings_are_refused_before_reading(saved):
    def damage(f):
        g = f["results"][next(iter(f["results"]))]
        del g["defect_specs"]
        big = np.array([b"x" * 2**20] * 100, dtype="S1048576")
        g.create_dataset("defect_specs", data=big, compression="gzip", chunks=(1,))

    edit(saved, damage)
    assert os.path.getsize(saved) < 5e6
    assert "strings decode to more than" in _fast(project_io.load, saved)


def test_declared_but_unwritten_dataset_is_refused(saved):
    def damage(f):
        g = f["results"][next(iter(f["results"]))]
        shape = g["output_voltages"].shape
        del g["output_voltages"]
        g.create_dataset("output_voltages", shape=shape, dtype="f8", chunks=True)

    edit(saved, damage)
    assert "never written" in _fast(project_io.load, saved)


def test_too_many_attributes_are_refused(saved):
    def damage(f):
        for i in range(300):
            f["device"].attrs[f"extra_{i}"] = i

    edit(saved, damage)
    assert "attributes, more than the limit" in _fast(project_io.load, saved)


# --- 3. writers that never lose results ----------------------------------------------------------------------
_WRITER = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, sys.argv[1])
    from core import jobs
    from core.evaluate import evaluate_job
    from core.session import project_file
    path, me, barrier = sys.argv[2], sys.argv[3], sys.argv[4]
    opened = project_file.open_for_update(path)
    open(barrier + "." + me, "w").close()
    while len([n for n in os.listdir(os.path.dirname(barrier)) if n.startswith(os.path.basename(barrier))]) < 2:
        time.sleep(0.01)  # both writers have read the file before either stores: the lost-update race
    res = jobs.run(evaluate_job(opened.project, (), "ideal", scenario="writer-" + me))
    project_file.store_results(opened, [res])
    print(res.id, flush=True)
    """
)


@pytest.mark.timeout(300)
def test_two_writer_processes_both_keep_their_results(trained_project, tmp_path):
    path = str(tmp_path / "p.h5")
    project_io.save(trained_project, path)
    for trial in range(3):
        barrier = str(tmp_path / f"barrier{trial}")
        before = len(project_io.load(path).results)
        kids = [
            subprocess.Popen(
                [sys.executable, "-c", _WRITER, ROOT, path, str(k), barrier], stdout=subprocess.PIPE, text=True
            )
            for k in range(2)
        ]
        ids = []
        for k in kids:
            out, _ = k.communicate(timeout=120)
            assert k.returncode == 0
            ids.append(out.strip())
        after = project_io.open_project(path)
        stored = {r.id: r.scenario for r in after.project.results}
        assert len(after.project.results) == before + 2 and after.warnings == []
        assert len(set(ids)) == 2 and all(i in stored for i in ids), (ids, stored)
        assert {stored[i] for i in ids} == {"writer-0", "writer-1"}
    assert not glob.glob(str(tmp_path / ".p.h5.*"))  # no temp file, no lock sidecar left


@pytest.mark.timeout(300)
def test_two_cli_evaluations_into_one_project_keep_both_results(trained_project, tmp_path):
    path = str(tmp_path / "p.h5")
    project_io.save(trained_project, path)
    reported = []
    for _trial in range(2):
        env = {**os.environ, "PYTHONPATH": ROOT}
        kids = [
            subprocess.Popen(
                [*CLI, "evaluate", path, "--fidelity", "ideal", "--json", "--quiet"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
                env=env,
            )
            for _ in range(2)
        ]
        for k in kids:
            out, err = k.communicate(timeout=120)
            assert k.returncode == 0, err
            reported.append(json.loads(out)["id"])
    ids = [r.id for r in project_io.load(path).results]
    assert len(reported) == len(set(reported)) == 4 and set(reported) <= set(ids), (reported, ids)


_HOLDER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from core.project_io.lock import project_lock
    with project_lock(sys.argv[2], command="reram-workbench sweep (test holder)"):
        print("locked", flush=True)
        time.sleep(30)
    """
)


def test_a_held_lock_is_a_clear_refusal_naming_the_other_writer(trained_project, tmp_path):
    path = str(tmp_path / "p.h5")
    project_io.save(trained_project, path)
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, ROOT, path], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ProjectLockedError) as info:
            with project_lock(path, wait_s=0.3):
                pass
        text = str(info.value)
        assert text.startswith("p.h5 is being written by another process") and "try again" in text
        assert f"pid {holder.pid}" in text and "test holder" in text and "\n" not in text
    finally:
        holder.kill()
        holder.wait(timeout=10)
        holder.stdout.close()
    # killed with the lock held: the kernel released it, the next writer is not blocked
    with project_lock(path, wait_s=1.0):
        pass


def test_gui_save_notices_changes_on_disk_and_merges_them(trained_project, tmp_path):
    path = str(tmp_path / "p.h5")
    project_io.save(trained_project, path)
    gui = project_io.open_project(path)
    base = FileBase.of(gui)
    # another process stores a result meanwhile
    other = project_file.open_for_update(path)
    theirs = jobs.run(evaluate_job(other.project, (), "ideal", scenario="theirs"))
    project_file.store_results(other, [theirs])
    mine = store_result(gui.project, jobs.run(evaluate_job(gui.project, (), "ideal", scenario="mine")))
    with pytest.raises(ProjectChangedError, match="changed on disk.*1 new result"):
        project_file.save_document(gui.project, path, base, "refuse")
    outcome = project_file.save_document(gui.project, path, base, "merge")
    assert [r.scenario for r in outcome.merged_results] == ["theirs"]
    on_disk = project_io.load(path)
    assert sorted(r.scenario for r in on_disk.results) == ["mine", "theirs"]
    assert len({r.id for r in on_disk.results}) == 2 and mine.id in {r.id for r in on_disk.results}
    # the new base is the file as saved: the next save goes through without a question
    project_file.save_document(gui.project, path, outcome.base, "refuse")


def test_store_refuses_when_the_file_now_holds_another_network(trained_project, tmp_path):
    path = str(tmp_path / "p.h5")
    project_io.save(trained_project, path)
    opened = project_file.open_for_update(path)
    res = jobs.run(evaluate_job(opened.project, (), "ideal"))
    other = project_io.load(path)
    other.weights.weights[0] = other.weights.weights[0] * 0.5
    project_io.save(other, path)
    with pytest.raises(ProjectChangedError, match="different network"):
        project_file.store_results(opened, [res])
    assert len(project_io.load(path).results) == 0


# --- 4. leftovers of killed saves and full disks -------------------------------------------------------------
_SAVER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    import numpy as np
    from core import project_io
    p = project_io.load(sys.argv[2])
    p.recoveries[0].arrays["big"] = np.random.default_rng(0).random((3000, 3000))
    print("ready", flush=True)
    while True:
        project_io.save(p, sys.argv[2])
    """
)


@pytest.mark.timeout(120)
def test_next_save_removes_the_temp_file_of_a_killed_save(saved, tmp_path):
    child = subprocess.Popen([sys.executable, "-c", _SAVER, ROOT, saved], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while not glob.glob(str(tmp_path / ".p.h5.*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.002)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        child.stdout.close()
    assert glob.glob(str(tmp_path / ".p.h5.*.tmp")), "the saver never started writing"
    p = project_io.load(saved)
    project_io.save(p, saved)
    assert sorted(os.listdir(tmp_path)) == ["p.h5"]


_FULL_DISK_SAVER = textwrap.dedent(
    """
    import resource, signal, sys
    sys.path.insert(0, sys.argv[1])
    import numpy as np
    from core import project_io
    from core.cli.main import main
    p = project_io.load(sys.argv[2])
    p.recoveries[0].arrays["big"] = np.random.default_rng(0).random((400, 400))
    if sys.argv[3] == "fsize":
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
    try:
        project_io.save(p, sys.argv[2])
    except project_io.ProjectSaveError as e:
        print(str(e), file=sys.stderr)
        sys.exit(2)
    """
)


def _full_disk_save(path: str, how: str):
    return subprocess.run(
        [sys.executable, "-c", _FULL_DISK_SAVER, ROOT, path, how], capture_output=True, text=True, timeout=120
    )


def test_a_file_size_limit_during_save_is_one_line_and_keeps_the_old_file(saved, tmp_path):
    before = open(saved, "rb").read()
    r = _full_disk_save(saved, "fsize")
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert r.stderr.count("\n") == 1 and "cannot save project" in r.stderr and "full" in r.stderr, r.stderr
    assert open(saved, "rb").read() == before
    assert sorted(os.listdir(tmp_path)) == ["p.h5"]


@pytest.mark.skipif(os.geteuid() != 0 or not sys.platform.startswith("linux"), reason="mounting tmpfs needs root")
def test_a_full_tmpfs_during_save_is_one_line_and_keeps_the_old_file(saved, tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    size = os.path.getsize(saved) + 64 * 1024  # room for the project and 64 KB more: the new one does not fit
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        target = str(mnt / "p.h5")
        with open(saved, "rb") as src, open(target, "wb") as dst:
            dst.write(src.read())
        before = open(target, "rb").read()
        for _ in range(3):
            r = _full_disk_save(target, "tmpfs")
            assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
            assert r.stderr.count("\n") == 1 and "cannot save project" in r.stderr, r.stderr
            assert open(target, "rb").read() == before
            assert sorted(os.listdir(mnt)) == ["p.h5"]
    finally:
        subprocess.run(["umount", str(mnt)])


# --- 5. integrity: a digest over every stored value ----------------------------------------------------------
def test_every_group_has_a_digest_and_a_clean_file_has_no_warnings(saved):
    with h5py.File(saved, "r") as f:
        assert f.attrs[integrity.SCHEME_ATTR].decode() == integrity.SCHEME
        groups = ["/"]
        f.visititems(lambda n, o: groups.append(n) if isinstance(o, h5py.Group) else None)
        assert all(integrity.DIGEST_ATTR in f[g].attrs for g in groups)
    assert project_io.read(saved).warnings == []


@pytest.mark.parametrize(
    "where, change",
    [
        ("/device", lambda f: f["device"].attrs.modify("v_read_volt", f["device"].attrs["v_read_volt"] * 1.001)),
        ("/scenarios/", lambda f: _retext(f, "scenarios", "description")),
        ("/results/", lambda f: _retext(f, "results", "params")),
        ("/sweeps/", lambda f: _retext(f, "sweeps", "spec")),
        ("/recoveries/", lambda f: _drop_recovery_array(f)),
    ],
)
def test_one_changed_value_is_detected_and_never_saved_back(saved, where, change):
    edit(saved, change)
    loaded = project_io.read(saved)
    assert loaded.warnings and any(w.startswith(where) for w in loaded.warnings), loaded.warnings
    with pytest.raises(ProjectWarningsError, match="integrity warnings"):
        project_file.open_for_update(saved)
    opened = project_io.open_project(saved)
    with pytest.raises(ProjectWarningsError):
        project_file.save_document(opened.project, saved, FileBase.of(opened), "refuse")
    if where != "/device":
        return
    # the CLI refuses to store into it, in one line, exit 2 (and still reads it, with a warning)
    r = cli("evaluate", saved, "--fidelity", "ideal", "--json", "--quiet")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "integrity warnings" in r.stderr, r.stderr
    r = cli("info", saved, "--json")
    assert r.returncode == 0 and "warning" in r.stderr


def _retext(f, top, name):
    for g in f[top].values():
        if name in g:
            raw = bytearray(g[name][()])
            i = next(i for i, c in enumerate(raw) if chr(c).isalpha())  # one letter changed: still valid JSON
            raw[i] = ord("q") if raw[i] != ord("q") else ord("z")
            data = bytes(raw)
            del g[name]
            g.create_dataset(name, data=np.array(data, dtype=f"S{len(data)}"))
            return
    raise AssertionError(f"no {name} in /{top}")


def _drop_recovery_array(f):
    arrays = next(iter(f["recoveries"].values()))["arrays"]
    del arrays[next(iter(arrays))]


def test_files_without_digests_still_load_without_warnings(saved):
    assert project_io.read(V1_FILE).warnings == []

    def strip(f):
        del f.attrs[integrity.SCHEME_ATTR]

    edit(saved, strip)
    assert any("no 'integrity' attribute" in w for w in project_io.read(saved).warnings)


def test_save_of_a_damaged_write_is_refused_not_replaced(trained_project, tmp_path):
    path = str(tmp_path / "p.h5")
    project_io.save(trained_project, path)
    before = open(path, "rb").read()
    trained_project.weights.weights[0][0, 0] = np.nan
    with pytest.raises(ProjectSaveError):
        project_io.save(trained_project, path)
    assert open(path, "rb").read() == before and sorted(os.listdir(tmp_path)) == ["p.h5"]


# --- 6. values the loader accepts that break later: the same ranges as at creation ---------------------------
def _history_emptied(f):
    hg = f["network/weights/history"]
    for name in list(hg):
        attrs = dict(hg[name].attrs)
        del hg[name]
        hg.create_dataset(name, data=np.zeros(0)).attrs.update(attrs)


@pytest.mark.parametrize(
    "change, where, message",
    [
        (_history_emptied, "/network/weights/history/", "is empty"),
        (lambda f: f["dataset"].attrs.modify("seed", np.int64(2**32 - 1)), "/dataset", "must be in [0, 4.29497e+09]"),
        (lambda f: f["dataset"].attrs.modify("cal_size", np.int64(1797 - 180 - 1)), "/dataset", "for training"),
        (lambda f: f["mapping/array_2"].attrs.modify("k_stage2", 0.0), "/mapping/array_2", "'k_stage2' must be in"),
        (lambda f: f["mapping/array_1"].attrs.modify("sigma_in", -0.2), "/mapping/array_1", "'sigma_in' must be in"),
        (lambda f: f["mapping/array_3"].attrs.modify("bias_scale", 1e308), "/mapping/array_3", "'bias_scale'"),
    ],
)
def test_out_of_range_values_are_refused_at_load(saved, change, where, message):
    edit(saved, change)
    text = one_line_error(project_io.load, saved)
    assert text.startswith(where) and message in text, text


def test_labels_beyond_the_output_count_are_refused(trained_project, tmp_path):
    from core.model.data import DatasetSpec

    rng = np.random.default_rng(0)
    X, y = rng.random((200, 64)), np.arange(200) % 10
    spec = DatasetSpec("npz", 0, 20, 20, 1, "user.npz")
    spec.X, spec.y = X, y
    trained_project.dataset = spec
    path = str(tmp_path / "p.h5")
    project_io.save(trained_project, path)

    def damage(f):
        y = f["dataset/y"][()]
        y[5] = 12
        del f["dataset/y"]
        f["dataset"].create_dataset("y", data=y)

    edit(path, damage)
    text = one_line_error(project_io.load, path)
    assert text.startswith("/dataset/y") and "labels must be in [0, 9]" in text, text


@pytest.mark.timeout(300)
def test_damaged_files_through_the_public_open_path_never_kill_the_caller(saved, tmp_path):
    """Seeded byte damage in the metadata region, each file opened with the probe: a project or one line."""
    data = open(saved, "rb").read()
    rng = np.random.default_rng(14)
    outcomes = {"opened": 0, "refused": 0}
    for i in range(40):
        d = bytearray(data)
        for pos in rng.integers(0, min(len(d), 16384), size=int(rng.integers(1, 6))):
            d[int(pos)] = int(rng.integers(0, 256))
        path = tmp_path / f"d{i:02d}.h5"
        path.write_bytes(bytes(d))
        t0 = time.perf_counter()
        try:
            opened = project_io.open_project(str(path))
            outcomes["opened"] += 1
            assert opened.project.network.layer_sizes
        except ProjectFormatError as e:
            outcomes["refused"] += 1
            assert "\n" not in str(e) and len(str(e)) < 4200
        assert time.perf_counter() - t0 < 60
    assert outcomes["refused"] > 0, outcomes


def test_the_probe_reports_through_its_pipe_whatever_sys_stdout_is(capsys):
    # regression: the child printed to sys.stdout, which pytest's capture (or any embedding application) replaces,
    # so the parent saw nothing and called a sound file "damaged (exit code 0)"
    from core.cli.main import main

    assert main(["info", "projects/digits-paper.h5", "--json"]) == 0
    out = capsys.readouterr()
    assert '"format": "reram-workbench-project"' in out.out and "damaged" not in out.err
