"""The resonate-and-fire neurons (lava-dl's ``rf`` / ``rf_iz``; Lava's RF, RF_IZ) one step at a
time for the graph runner (:mod:`snnpipe.models.from_graph`), in the ``loihi`` and ``float``
precisions: the step functions of :mod:`snnpipe.models.neurons.rf_loihi` and
:mod:`snnpipe.models.neurons.rf_float` behind one interface.

A population's input is complex: current 0 (``syn`` ``RF_REAL``) the real part, current 1 the
imaginary part, (B, 2, N) float units per step. States ``(real, imag)`` (B, N) are kept in the
precision's own numbers (loihi: int64 in 1/4096; float: float64) and reported in float units.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from snnpipe.hwmap.targets import loihi
from snnpipe.models.neurons.rf_float import rf_float_params, rf_step_float
from snnpipe.models.neurons.rf_loihi import UNIT, rf_params, rf_step_loihi
from snnpipe.pipeline.ir.errors import GraphError

PRECISIONS = ("loihi", "float")


@dataclass(frozen=True)
class RFNode:
    """One rf population in one precision: its step's parameters."""

    precision: str
    params: object

    def initial(self, batch: int, n: int) -> tuple:
        """The rest state ``(real, imag)``."""
        dtype = torch.int64 if self.precision == "loihi" else torch.float64
        return torch.zeros(batch, n, dtype=dtype), torch.zeros(batch, n, dtype=dtype)

    def step(self, z: torch.Tensor, state: tuple):
        """``z`` (B, 2, N) complex input, float units -> ``(spikes (B, N), state, (real,
        imag) in float units)``."""
        if self.precision == "loihi":
            s, state = rf_step_loihi(z[:, 0], z[:, 1], state, self.params)
            return s, state, tuple(v.to(z.dtype) / UNIT for v in state)
        s, state = rf_step_float(z[:, 0].double(), z[:, 1].double(), state, self.params)
        return s.to(z.dtype), state, tuple(v.to(z.dtype) for v in state)


def rf_node(node: str, attrs: dict, precision: str) -> RFNode:
    """:class:`RFNode` of a Graph node (:func:`snnpipe.pipeline.ir.graph.add_rf`); GraphError
    naming the node and field for what the step functions do not hold (a per-neuron threshold,
    a precision other than loihi and float)."""
    if precision not in PRECISIONS:
        raise GraphError("rf populations run in the loihi and float precisions", where=node,
                         field="precision", expected=PRECISIONS, found=precision)
    th = np.asarray(attrs["threshold"], np.float64)
    if th.size != 1:
        raise GraphError("the torch rf step takes one threshold per population", where=node,
                         field="threshold", expected="a scalar", found=th.shape)
    threshold = float(th.reshape(-1)[0])
    if precision == "loihi":
        sin_decay, cos_decay = loihi.rf_decays_to_int(attrs["period"], attrs["decay"])
        return RFNode(precision, rf_params(threshold, sin_decay, cos_decay, attrs["variant"]))
    return RFNode(precision, rf_float_params(threshold, attrs["period"], attrs["decay"],
                                             attrs["variant"]))
