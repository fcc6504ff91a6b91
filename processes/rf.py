"""Resonate-and-fire populations as lava-nc's own processes: ``RF`` (phase) and ``RF_IZ``
(Izhikevich) (lava.proc.rf, lava.proc.rf_iz), as netx builds them.

Fixed point: ``period`` and ``decay`` as the Graph holds them, which Lava's RF turns into
12-bit decays (``decay_bits = 12``; :func:`snnpipe.hwmap.targets.loihi.rf_decays_to_int`),
inputs shifted left by ``state_exp = 6`` and the threshold mantissa ``int(64 * threshold)``
(``vth << 6`` in state units). Floating point: the Graph's float units (``state_exp = 0``,
``decay_bits = 0``: Lava's float model does not shift), which is the Graph's own float
semantics. The real part of the input arrives at ``a_real_in`` (current 0), the imaginary part
at ``a_imag_in`` (current 1). Lava's RF holds one threshold per population.
"""
from __future__ import annotations

import numpy as np
from lava.proc.rf.process import RF
from lava.proc.rf_iz.process import RF_IZ

from snnpipe.hwmap.targets.loihi import ACTIVATION_SHIFT, RF_DECAY_BITS, threshold_to_int
from snnpipe.hwmap.targets.loihi_rules import rule_rf
from snnpipe.pipeline.ir.errors import GraphError
from snnpipe.pipeline.ir.graph import RF_IMAG, RF_REAL, size

PROCESSES = (RF, RF_IZ)


def check(graph) -> None:
    """Raise GraphError (or QuantizationError) for rf populations Lava's RF cannot hold."""
    if not any(d.get("model") == "rf" for _, d in graph.nodes(data=True)):
        return
    rule_rf(graph, None)
    for node, d in graph.nodes(data=True):
        if d.get("model") != "rf":
            continue
        th = np.asarray(d["threshold"])
        if np.any(th != th.flat[0]):
            raise GraphError("Lava's RF holds one threshold (it computes int(vth * 64))",
                             where=node, field="threshold", expected="one value",
                             found=f"{th.min():.6g}..{th.max():.6g}")


def _value(a):
    a = np.asarray(a, np.float64)
    return float(a) if a.ndim == 0 else a.copy()


def population(node: str, d: dict, precision: str):
    """The Lava process of rf node ``node`` (attributes ``d``) in ``precision``."""
    proc = RF if d["variant"] == "phase" else RF_IZ
    th = float(np.asarray(d["threshold"]).flat[0])
    kw = dict(shape=(size(d["shape"]),), period=_value(d["period"]), alpha=_value(d["decay"]),
              name=node)
    if precision == "fixed":
        return proc(vth=int(threshold_to_int(th)), state_exp=ACTIVATION_SHIFT,
                    decay_bits=RF_DECAY_BITS, **kw)
    return proc(vth=th, state_exp=0, decay_bits=0, **kw)


def port(proc, syn: int):
    """The input port of current ``syn`` (``RF_REAL`` or ``RF_IMAG``) of an RF process."""
    return {RF_REAL: proc.a_real_in, RF_IMAG: proc.a_imag_in}[syn]
