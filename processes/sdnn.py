"""Sigma-delta populations as lava-nc's own processes: ``Delta``, ``SigmaDelta`` (ReLU or
unit activation) and ``Sigma`` (lava.proc.sdn), as netx builds them.

Fixed point: threshold and bias in 1/64 of the float unit (``int(64 * threshold)``,
``rint(64 * bias)``), which the processes scale by ``2^(spike_exp + state_exp)``. Floating
point: the graph's float units with ``spike_exp = state_exp = 0`` (Lava's float models do not
shift), which is the Graph's own float semantics. Lava holds one threshold per population and
no bias in a Delta or a Sigma; the Loihi target's rules (``rule_sigma_delta``) say how the
stages may be joined.
"""
from __future__ import annotations

import numpy as np
from lava.proc.sdn.process import ActivationMode, Delta, Sigma, SigmaDelta

from snnpipe.hwmap.targets.loihi import WEIGHT_UNIT, threshold_to_int
from snnpipe.hwmap.targets.loihi_rules import rule_sigma_delta
from snnpipe.pipeline.ir.errors import GraphError
from snnpipe.pipeline.ir.graph import size

PROCESSES = (Delta, SigmaDelta, Sigma)


def check(graph) -> None:
    """Raise GraphError for sigma-delta populations Lava's processes cannot hold."""
    if not any(d.get("model") == "sigma_delta" for _, d in graph.nodes(data=True)):
        return
    rule_sigma_delta(graph, None)
    for node, d in graph.nodes(data=True):
        if d.get("model") != "sigma_delta":
            continue
        th = np.asarray(d["threshold"])
        if d["stage"] != "sigma" and np.any(th != th.flat[0]):
            raise GraphError("Lava's Delta and SigmaDelta hold one threshold", where=node,
                             field="threshold", expected="one value",
                             found=f"{th.min():.6g}..{th.max():.6g}")
        if d["stage"] == "delta" and np.any(d["bias"]):
            raise GraphError("Lava's Delta has no bias (netx drives an input bias with the "
                             "input; our Lava network does not)", where=node, field="bias",
                             expected=0, found=float(np.max(np.abs(d["bias"]))))


def population(node: str, d: dict, precision: str):
    """The Lava process of sigma-delta node ``node`` (attributes ``d``) in ``precision``."""
    n, stage = size(d["shape"]), d["stage"]
    if stage == "sigma":
        return Sigma(shape=(n,))
    th = float(np.asarray(d["threshold"]).flat[0])
    bias = np.broadcast_to(np.asarray(d["bias"], np.float64), (n,))
    if precision == "fixed":
        vth, exps = int(threshold_to_int(th)), (d["spike_exp"], d["state_exp"])
        bias = np.rint(bias * WEIGHT_UNIT).astype(np.int64)
    else:
        vth, exps = th, (0, 0)
    if stage == "delta":
        return Delta(shape=(n,), vth=vth, spike_exp=exps[0], state_exp=exps[1])
    mode = ActivationMode.RELU if d["activation"] == "relu" else ActivationMode.UNIT
    return SigmaDelta(shape=(n,), vth=vth, bias=bias.copy(), act_mode=mode, spike_exp=exps[0],
                      state_exp=exps[1], name=node)
