"""The precisions of the CUBA neuron, by name: each is a step function, its sequence function
and the per-sequence quantisation of its parameters (None for ``float``).

====== ====================================== ==========================================
name   step / sequence                        arithmetic
====== ====================================== ==========================================
float  :mod:`.cuba_float`                      floating point (DESIGN.md 5.3)
loihi  :mod:`.cuba_loihi`                      SLAYER / Lava fixed point (DESIGN.md 5.1, 5.4)
xylo   :mod:`.cuba_xylo`                       Xylo Audio 2 integers (DESIGN.md 6.2)
====== ====================================== ==========================================

A step is ``step(x, state, p, *extra) -> (s, u, v_pre, state)`` on (batch, n_syn, N) float
inputs; a sequence ``sequence(x, p, state) -> (s, u, v, state)`` on (batch, n_syn, N, T).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from snnpipe.models.neurons.cuba_float import cuba_float, cuba_step_float
from snnpipe.models.neurons.cuba_loihi import cuba_loihi, cuba_step_loihi, loihi_ints
from snnpipe.models.neurons.cuba_xylo import cuba_step_xylo, cuba_xylo, xylo_ints
from snnpipe.pipeline.ir.errors import SnnpipeError


@dataclass(frozen=True)
class Precision:
    """One precision: ``step``, ``sequence`` and ``ints(p)`` (the quantised parameters passed
    to every step of a sequence, or None)."""

    name: str
    step: Callable
    sequence: Callable
    ints: Callable | None = None

    def extra(self, p) -> tuple:
        """The extra arguments of :attr:`step` for a sequence with parameters ``p``."""
        return () if self.ints is None else (self.ints(p),)


PRECISIONS = {p.name: p for p in (
    Precision("float", cuba_step_float, cuba_float),
    Precision("loihi", cuba_step_loihi, cuba_loihi, loihi_ints),
    Precision("xylo", cuba_step_xylo, cuba_xylo, xylo_ints),
)}


def precision(name: str) -> Precision:
    """The precision ``name``; SnnpipeError naming the known ones otherwise."""
    if name not in PRECISIONS:
        raise SnnpipeError("unknown precision", field="precision", expected=sorted(PRECISIONS),
                           found=name)
    return PRECISIONS[name]
