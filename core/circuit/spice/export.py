"""Writing the whole circuit as an ngspice netlist file: one function for the CLI's ``netlist`` and the workbench's
File > Export netlist."""

from __future__ import annotations

import os

import numpy as np

from core.circuit.spice import simulate
from core.errors import WorkbenchError
from core.jobs import Progress
from core.model.crossbar import MappedNetwork


def write_text_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace`` (no ``.tmp`` is left on failure)."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise WorkbenchError(f"output: cannot write {path!r} ({e.strerror})") from None


def netlist_job(mapped: MappedNetwork, X: np.ndarray, g_list, path: str, neuron: str = "macro"):
    """Job: the netlist of ``mapped`` with conductances ``g_list`` on inputs ``X`` (a staircase), written to ``path``.

    Every value in it is a number formatted by the netlist builder; no text from the project reaches it. Returns
    ``{"netlist", "n_images", "bytes"}``.
    """
    yield Progress(0, 2, f"building the netlist ({len(X)} images)")
    text = simulate.build_netlist_text(mapped, X, g_list, neuron=neuron)
    yield Progress(1, 2, f"writing {os.path.basename(path)}")
    write_text_atomically(path, text)
    yield Progress(2, 2, f"wrote {os.path.basename(path)}")
    return {"netlist": os.path.abspath(path), "n_images": int(len(X)), "bytes": len(text.encode())}
