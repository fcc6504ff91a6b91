"""Graph parameters -> Lava process parameters, per precision (numpy only, no Lava).

Fixed point (DESIGN.md 5.1, 6.1): a population is quantised by the Loihi-style target's own
quantiser (:func:`snnpipe.hwmap.mappers.loihi_quant.quantize_population`), then written in
Lava's form ``du = iDecay - 1`` (Lava's hard-wired +1), ``dv = vDecay``, ``vth``,
``bias_mant``, ``bias_exp``; weights ``weight_to_int`` (even integers in 1/64 units) realised
by ``weight_format`` as Lava Dense mantissas, ``num_weight_bits`` and ``weight_exp`` that
Lava's clip and truncation keep exact (also for an all-non-positive matrix holding -256 and an
all-zero one, where netx fails).
Float (DESIGN.md 5.3): the graph's float units unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnpipe.hwmap.mappers.loihi_quant import quantize_population
from snnpipe.hwmap.targets.loihi import weight_to_int
from snnpipe.hwmap.targets.loihi_weights import weight_format
from snnpipe.pipeline.ir.errors import GraphError, QuantizationError
from snnpipe.pipeline.ir.graph import size

PRECISIONS = ("fixed", "float")


@dataclass
class NeuronParams:
    """Parameters of one population in Lava units; arrays broadcast to (N,) or (n_syn, N)."""

    n_syn: int
    du: np.ndarray
    dv: np.ndarray
    vth: np.ndarray | None
    bias_mant: np.ndarray
    bias_exp: np.ndarray | int


@dataclass
class DenseWeights:
    """A Lava Dense realisation: ``weights`` (out, in), ``weight_exp``, ``num_weight_bits``."""

    weights: np.ndarray
    weight_exp: int
    num_weight_bits: int


def neuron_params(node: str, attrs: dict, precision: str) -> NeuronParams:
    """Lava parameters of neuron node ``node`` with attributes ``attrs`` (Graph units)."""
    n, n_syn = size(attrs["shape"]), int(attrs.get("n_syn", 1))
    cd = np.asarray(attrs["current_decay"], dtype=np.float64)
    if cd.ndim == 1:
        cd = cd[:, None]
    try:
        cd = np.broadcast_to(cd, (n_syn, n))
    except ValueError:
        raise GraphError("current_decay does not match n_syn and the population size",
                         where=node, field="current_decay",
                         expected=f"scalar, ({n_syn},) or ({n_syn}, {n})", found=cd.shape) from None
    vd = np.broadcast_to(np.asarray(attrs["voltage_decay"], dtype=np.float64), (n,))
    bias = np.broadcast_to(np.asarray(attrs.get("bias", 0.0), dtype=np.float64), (n,))
    th = attrs.get("threshold")
    if precision == "float":
        return NeuronParams(n_syn, cd.copy(), vd.copy(),
                            None if th is None else np.broadcast_to(th, (n,)).astype(np.float64),
                            bias.copy(), 0)
    pop, _ = quantize_population(node, dict(attrs, n_syn=n_syn, current_decay=cd))
    return NeuronParams(n_syn, pop.i_decay - 1, pop.v_decay, None if th is None else pop.vth,
                        pop.bias_mant, pop.bias_exp)


def projection_weights(weight: np.ndarray, precision: str, where: str = ""):
    """Float weights (N_dst, N_src) -> Lava Dense parameters for ``precision``."""
    if precision == "float":
        return DenseWeights(np.asarray(weight, dtype=np.float64), 0, 8)
    fmt = weight_format(weight_to_int(weight))
    if not fmt.exact:
        raise QuantizationError("weights do not fit Lava's 8-bit Dense synapse exactly",
                                where=where, field="weight", expected="8-bit mantissas",
                                found=f"{fmt.num_weight_bits} bits needed")
    return DenseWeights(fmt.mantissa, fmt.weight_exp, fmt.num_weight_bits)
