"""Recorders writing each step straight into a memory-mapped ``.npy`` file (models in
``snnpipe.models.py``).

lava-nc's RingBuffer sink and Monitor return their data through ``Var.get()``, which sends one
message per element (a 200 x 2000 sink takes 15-20 s, DESIGN.md 5.6). These recorders instead
write into a float64 file of shape ``shape + (buffer,)`` that the caller creates and reads
(:func:`open_record`): column ``(t - 1) % buffer`` holds Lava step t.

``PortRecorder``: what arrives on ``a_in`` (spikes or graded values) each step.
``VarRecorder``: the value of a Var after each step (read through a RefPort in the management
phase, as lava-nc's Monitor does).
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort, RefPort
from lava.magma.core.process.process import AbstractProcess


def open_record(path, shape, buffer: int, mode: str = "w+") -> np.memmap:
    """The recorder file: float64 of shape ``shape + (buffer,)``; "w+" creates it as zeros."""
    return np.lib.format.open_memmap(str(path), mode=mode, dtype=np.float64,
                                     shape=tuple(shape) + (int(buffer),))


class PortRecorder(AbstractProcess):
    """Records its ``a_in`` input, ``shape``, into ``path`` (``buffer`` steps)."""

    def __init__(self, *, shape, buffer: int, path: str, name=None) -> None:
        shape = tuple(int(s) for s in np.atleast_1d(shape))
        super().__init__(shape=shape, buffer=int(buffer), path=str(path), name=name)
        self.a_in = InPort(shape=shape)


class VarRecorder(AbstractProcess):
    """Records Var ``var`` after every step into ``path`` (``buffer`` steps)."""

    def __init__(self, *, var, buffer: int, path: str, name=None) -> None:
        super().__init__(shape=tuple(var.shape), buffer=int(buffer), path=str(path), name=name)
        self.ref = RefPort(var.shape)
        self.ref.connect_var(var)
