"""Helpers for tests that build Lava networks by hand from lava-nc's own processes."""
from __future__ import annotations

import numpy as np
import pytest

lava = pytest.importorskip("lava.magma.core.run_configs")

from lava.magma.core.run_configs import Loihi2SimCfg  # noqa: E402
from lava.proc.dense.process import Dense  # noqa: E402
from lava.proc.io.source import RingBuffer as Source  # noqa: E402
from lava.proc.lif.process import LIF  # noqa: E402
from lava.proc.monitor.process import Monitor  # noqa: E402

from snnpipe.processes.lavaguard import run_steps, shutdown  # noqa: E402

TAGS = {"fixed": "fixed_pt", "float": "floating_pt"}


def probe_run(root, probes: dict, steps: int, precision: str) -> dict:
    """Run the network of ``root`` for ``steps``; ``probes`` name -> Var or OutPort.

    Returns name -> array (steps, *shape): the value after each Lava step.
    """
    mons = {}
    for name, target in probes.items():
        mons[name] = (Monitor(), target)
        mons[name][0].probe(target, steps)
    try:
        run_steps(root, steps, Loihi2SimCfg(select_tag=TAGS[precision]))
        out = {}
        for name, (mon, target) in mons.items():
            out[name] = np.asarray(mon.get_data()[target.process.name][target.name])
        return out
    finally:
        shutdown(root)


def sequential_lif(x: np.ndarray, layers: list[dict], precision: str, steps: int) -> list:
    """Hand-built netx-like chain: RingBuffer -> (Dense -> LIF) per layer.

    ``layers``: dicts with ``weights`` (out, in) and LIF kwargs (du, dv, vth, bias_mant,
    bias_exp). Returns the spikes (steps, N) of every layer.
    """
    dtype = np.int32 if precision == "fixed" else float
    src = Source(data=x.astype(dtype))
    prev, lifs = src.s_out, []
    for i, layer in enumerate(layers):
        layer = dict(layer)
        w = layer.pop("weights")
        dense = Dense(weights=w, num_message_bits=24 if i == 0 else 0)
        lif = LIF(shape=(w.shape[0],), **layer)
        prev.connect(dense.s_in)
        dense.a_out.connect(lif.a_in)
        prev, lifs = lif.s_out, lifs + [lif]
    data = probe_run(src, {f"l{i}": lif.s_out for i, lif in enumerate(lifs)}, steps, precision)
    return [data[f"l{i}"] for i in range(len(lifs))]
