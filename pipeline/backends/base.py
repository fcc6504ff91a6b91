"""The backend interface: a network compiled for a target, one runner per implementation, and
what a run returns.

A :class:`Compiled` network is what a runner takes: the float Graph itself (target ``graph``:
torch and Lava build their own model from it), a :class:`~snnpipe.hwmap.mappers.loihi_config.
LoihiConfig` (``loihi``) or a :class:`~snnpipe.hwmap.mappers.xylo_config.XyloConfig`
(``xylo``). A :class:`Backend` runs one kind of Compiled on an input raster of integer
counts, (B, C, T) (or a dict input -> raster), and returns a :class:`Run`.

Timing, the one rule (DESIGN.md 7): ``Run.outputs[o][..., t]`` is what the backend emits at its
step t, and ``Run.t_offset`` is its latency relative to the graph's torch model
(:func:`snnpipe.models.from_graph.build` in the float or loihi precision, which is Lava's raw
index: every projection adds one step). Lava, the Loihi-style simulator and torch in the
float or loihi precision have offset 0; on Xylo an input event reaches the membrane in the
same step, so the Xylo simulators (and torch in the xylo precision, which computes the chip's
integers) answer one step earlier: offset -1. :func:`align` re-indexes any output to another
time base, for example a trained model's whose readout does not delay (offset -1).

Units: spikes are integer counts; states and ``li`` readouts are in the backend's own units:
Loihi integers (4096 per float unit) for ``torch-loihi``, ``lava-fixed`` and ``intsim-loihi``,
chip integers for the Xylo backends, float units for ``torch-float`` and ``lava-float``.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

TARGETS = ("graph", "loihi", "xylo")


@dataclass
class Compiled:
    """A network ready for the runners of one ``target`` (one of :data:`TARGETS`).

    ``artifact``: the Graph (``graph``), a LoihiConfig or a XyloConfig; ``graph``: the float
    Graph it was made from (None for a configuration loaded alone); ``layout``: Xylo only,
    node -> ("hidden" | "output", start, stop) on the chip; ``report``: the mapper's
    quantisation report; ``options``: the mapper's keyword arguments (``limits`` ...).
    """

    target: str
    artifact: object
    graph: object | None = None
    layout: dict | None = None
    report: object | None = None
    options: dict = field(default_factory=dict)

    @property
    def outputs(self) -> list:
        """The graph's output node names (a configuration's own names without a graph)."""
        if self.graph is not None:
            return list(self.graph.graph["outputs"])
        return list(getattr(self.artifact, "outputs", ["output"]))


class Deferred(Mapping):
    """A read-only dict computed by ``fn()`` on first use: what a backend can report but a
    run need not pay for (the Loihi-style simulator's energy estimate counts every synaptic
    event, which on a large network costs about as much as the run)."""

    def __init__(self, fn: Callable[[], Mapping]):
        self._fn, self._value = fn, None

    def _get(self) -> dict:
        if self._value is None:
            self._value, self._fn = dict(self._fn()), None
        return self._value

    def __getitem__(self, key):
        return self._get()[key]

    def __iter__(self):
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __repr__(self) -> str:
        return repr(self._get()) if self._fn is None else "Deferred(not computed yet)"


@dataclass
class Run:
    """What one implementation produced.

    ``name``: the backend; ``pops``: population -> {``"spikes"`` (B, N, T) (spiking
    populations), ``"u"`` (B, n_syn, N, T), ``"v"`` (B, N, T) after reset}, recorded states;
    ``outputs``: graph output -> what it emits (B, N, T): spike counts, ``v`` of an ``li``
    readout, a merge's sum; ``saturation``: register event -> count; ``notes``: texts for a
    report; ``t_offset``: steps relative to the torch model (module docstring); ``energy``:
    ``{"energy_j", "latency_step_s"}`` per inference where the backend estimates them;
    ``counts``: the backend's own event counts (either may be :class:`Deferred`);
    ``output_unit``: state units per float unit of the outputs' ``v`` (None where unknown: chip
    integers of a configuration loaded alone).
    """

    name: str
    pops: dict
    outputs: dict = field(default_factory=dict)
    saturation: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    t_offset: int = 0
    energy: Mapping = field(default_factory=dict)
    counts: object | None = None
    output_unit: float | None = None

    @property
    def output(self) -> np.ndarray:
        """The first output's emission (B, N, T)."""
        return next(iter(self.outputs.values()))

    def states(self) -> dict:
        """Recorded states as ``"<population>/<variable>"`` -> array."""
        return {f"{p}/{var}": a for p, d in self.pops.items() for var, a in d.items()}


@dataclass(frozen=True)
class Backend:
    """One implementation: ``run(compiled, x, record) -> Run`` on a :class:`Compiled` of
    ``target``. ``unit``: state units per float unit of its ``v`` and ``u`` (None for chip
    integers whose scale the mapper chose); ``batched``: runs a batch at once (Lava runs the
    samples one after the other); ``requires``: a module that must be importable (``lava``,
    ``xylosim``); ``describe``: one line for help texts."""

    name: str
    target: str
    t_offset: int
    run: Callable
    unit: float | None
    describe: str = ""
    batched: bool = True
    requires: str | None = None

    def available(self) -> bool:
        """Whether the module this backend needs can be imported here."""
        return self.requires is None or importlib.util.find_spec(self.requires) is not None


def align(output: np.ndarray, t_offset: int, reference: int = 0) -> np.ndarray:
    """``output`` (..., T) of a backend with ``t_offset`` re-indexed to the time base of
    ``reference`` (an offset too): ``aligned[..., t] = output[..., t + t_offset - reference]``,
    zeros where that index is outside 0..T-1. Same shape."""
    lag = int(t_offset) - int(reference)
    out = np.zeros_like(output)
    steps = output.shape[-1]
    if lag >= 0:
        out[..., :steps - lag] = output[..., lag:]
    else:
        out[..., -lag:] = output[..., :steps + lag]
    return out


def n_steps(x) -> int:
    """Number of steps of an input raster (..., T) or of a dict of them."""
    return int(np.shape(next(iter(x.values())) if isinstance(x, dict) else x)[-1])


def channels(graph_inputs: list, x) -> np.ndarray:
    """Input rasters as one (B, Nin, T) int64 array, inputs in graph order."""
    if isinstance(x, dict):
        x = np.concatenate([np.asarray(x[n]) for n in graph_inputs], axis=1)
    x = np.asarray(x)
    return (x[None] if x.ndim == 2 else x).astype(np.int64)
