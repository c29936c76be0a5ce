"""Hostile command lines and data files: each is one named line and exit 2 (or a quiet exit), fast, in real
CLI processes; and text from a file cannot drive the terminal."""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from core import project_io
from core.model.project import Scenario

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "projects", "digits-paper.h5")


def cli(*args, timeout=120, stdin=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def one_line_error(p: subprocess.CompletedProcess, *words: str) -> None:
    assert p.returncode == 2, (p.returncode, p.stderr[-2000:])
    assert p.stderr.startswith("reram-workbench: error: ") and p.stderr.count("\n") == 1, p.stderr[-2000:]
    assert "Traceback" not in p.stderr
    for w in words:
        assert w in p.stderr, p.stderr


def _idx(shape, payload=b"", code=0x08) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(">" + "I" * len(shape), *shape) + payload


def _npy(shape, dtype="<f8", payload=b"") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue() + payload


@pytest.mark.parametrize(
    ("shape", "words"),
    [
        ((2**31, 2**31, 2**31), ["declares shape (2147483648, 2147483648, 2147483648)"]),
        ((2**32 - 1, 2**32 - 1), ["values), more than the"]),  # wraps to 1 in 64-bit numpy products
        ((65536, 65536, 0), ["payload size does not match"]),
        ((10, 28, 28), ["payload size does not match"]),  # declared 7,840 bytes, holds 3
    ],
)
def test_idx_headers_that_overflow_or_lie_are_named(tmp_path, shape, words):
    images, labels = tmp_path / "img.idx", tmp_path / "lab.idx"
    images.write_bytes(_idx(shape, b"abc"))
    labels.write_bytes(_idx((10,), bytes(range(10))))
    t0 = time.monotonic()
    one_line_error(cli("new", tmp_path / "p.h5", "--idx", images, labels, "--epochs", 1), *words)
    assert time.monotonic() - t0 < 30
    assert not (tmp_path / "p.h5").exists()


def test_gzipped_idx_is_read_only_as_far_as_its_header_declares(tmp_path):
    images, labels = tmp_path / "img.idx.gz", tmp_path / "lab.idx.gz"
    # a small file that would inflate to 200 MB: only 784 + 1 bytes are ever decompressed
    images.write_bytes(gzip.compress(_idx((1, 28, 28), bytes(200_000_000)), compresslevel=1))
    labels.write_bytes(gzip.compress(_idx((1,), b"\x01")))
    one_line_error(cli("new", tmp_path / "p.h5", "--idx", images, labels), "payload size does not match")


@pytest.mark.parametrize(
    ("x", "words"),
    [
        (_npy((2**40, 2**40)), ["declares shape (1099511627776, 1099511627776)", "more than the"]),
        (_npy((1_000_000, 64), payload=bytes(800)), ["declares shape (1000000, 64) (512,000,000 bytes) but holds 800"]),
        (_npy((0, 8, 8)), ["array 'X' is empty"]),
        (_npy((4, 0, 5)), ["array 'X' is empty"]),
    ],
)
def test_npz_declaring_impossible_shapes_is_named_before_loading(tmp_path, x, words):
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("X.npy", x)
        z.writestr("y.npy", _npy((4,), "<i8", np.arange(4, dtype="<i8").tobytes()))
    t0 = time.monotonic()
    one_line_error(cli("new", tmp_path / "p.h5", "--data", path), *words)
    assert time.monotonic() - t0 < 30


def test_huge_network_is_refused_with_its_estimate(tmp_path):
    t0 = time.monotonic()
    p = cli("new", tmp_path / "p.h5", "--hidden", "4096,4096,4096")
    one_line_error(p, "hidden: this network needs 33,869,834 parameters", "GiB of memory", "--allow-large")
    assert time.monotonic() - t0 < 60 and not (tmp_path / "p.h5").exists()


def test_enormous_sweep_is_refused_with_its_estimate_and_the_override():
    t0 = time.monotonic()
    p = cli("sweep", EXAMPLE, "--sizes", "0.001:1:1000", "--seeds", "100", "--no-save")
    one_line_error(p, "seeds: the sweep would evaluate", "defect maps, roughly", "--allow-large")
    assert time.monotonic() - t0 < 30


def test_info_into_a_closed_pipe_exits_quietly():
    # `info --json | true`: the reader is gone before the output is written
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "info", EXAMPLE, "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err  # 128 + SIGPIPE, what a shell reports
    assert err == ""


def test_info_text_escapes_terminal_sequences_from_the_file(tmp_path, _trained_paper):
    import copy

    proj = copy.deepcopy(_trained_paper)
    evil = "retitle\x1b]0;pwned\x07clear\x1b[2J\x1b[H\rover\u202eevil"
    proj.scenarios[evil] = Scenario(evil, [])
    proj.scenarios["long"] = Scenario("x" * 5000, [])
    path = tmp_path / "p.h5"
    project_io.save(proj, str(path))
    p = cli("info", path)
    assert p.returncode == 0, p.stderr
    assert "\x1b" not in p.stdout and "\r" not in p.stdout and "\u202e" not in p.stdout and "\x07" not in p.stdout
    assert "retitle\\x1b]0;pwned\\x07clear\\x1b[2J\\x1b[H\\x0dover\\u202eevil" in p.stdout
    assert "... (5,000 characters)" in p.stdout and max(len(line) for line in p.stdout.splitlines()) < 1000
    j = cli("info", path, "--json")
    assert j.returncode == 0 and "\x1b" not in j.stdout  # JSON escapes it, and keeps it whole
    assert evil in {sc["name"] for sc in json.loads(j.stdout)["scenarios"]}
