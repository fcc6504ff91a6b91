"""Resource report of a mapped Xylo configuration: what the network uses of the chip.

Counts are of non-zero integer weights (a synapse exists where its weight is non-zero);
``fan_out`` is, per hidden neuron, the number of hidden neurons it reaches through
``weights_rec`` on either synapse (the chip's limit is ``max_fanout``).
"""
from __future__ import annotations

import numpy as np

from snnpipe.hwmap.mappers.xylo_config import XyloConfig
from snnpipe.hwmap.targets.xylo import XYLO_AUDIO2, XyloLimits


def _alias_count(aliases) -> int:
    return sum(1 for a in aliases if (a if isinstance(a, (list, tuple)) else [a]) not in ([], [-1], [None]))


def resource_report(config: XyloConfig, limits: XyloLimits = XYLO_AUDIO2) -> dict:
    """A JSON-able dict: neurons and channels used, synapses per neuron, fan-out histogram,
    aliases, weight shifts, each with its limit."""
    w_in = np.asarray(config.weights_in) != 0
    w_rec = np.asarray(config.weights_rec) != 0
    w_out = np.asarray(config.weights_out) != 0
    n_in, n_hid, _ = w_in.shape
    n_out = w_out.shape[1]
    fan_in = w_in.sum(axis=(0, 2)) + w_rec.sum(axis=(0, 2))         # synapses into each hidden neuron
    fan_out = w_rec.any(axis=2).sum(axis=1)                          # hidden targets per hidden neuron
    edges = [0, 1, 2, 5, 9, 17, 33, 65, max(n_hid, 65) + 1]
    hist, _ = np.histogram(fan_out, bins=edges)
    return {
        "target": limits.name,
        "input_channels": {"used": int(w_in.any(axis=(1, 2)).sum()), "declared": n_in, "limit": limits.n_in},
        "hidden_neurons": {"used": n_hid, "limit": limits.n_hidden,
                           "utilisation": n_hid / limits.n_hidden},
        "output_neurons": {"used": n_out, "limit": limits.n_out},
        "synapses": {"input": int(w_in.sum()), "recurrent": int(w_rec.sum()), "output": int(w_out.sum()),
                     "max_fan_in": int(fan_in.max(initial=0)),
                     "mean_fan_in": float(fan_in.mean()) if n_hid else 0.0},
        "fan_out": {"max": int(fan_out.max(initial=0)), "limit": limits.max_fanout,
                    "histogram": {f"{lo}-{hi - 1}": int(c) for lo, hi, c in zip(edges[:-1], edges[1:], hist)}},
        "aliases": {"used": _alias_count(config.aliases), "limit_per_neuron": limits.max_alias_targets},
        "weight_shift": {"in": int(config.weight_shift_in), "rec": int(config.weight_shift_rec),
                         "out": int(config.weight_shift_out), "limit": limits.max_weight_shift},
    }


def report_text(rep: dict) -> str:
    """The report as aligned text, one resource per line."""
    lines = [f"Xylo resource report ({rep['target']})",
             f"  input channels  {rep['input_channels']['used']:>5} used of {rep['input_channels']['limit']}"
             f" ({rep['input_channels']['declared']} declared)",
             f"  hidden neurons  {rep['hidden_neurons']['used']:>5} of {rep['hidden_neurons']['limit']}"
             f" ({100 * rep['hidden_neurons']['utilisation']:.1f}%)",
             f"  output neurons  {rep['output_neurons']['used']:>5} of {rep['output_neurons']['limit']}",
             f"  synapses        input {rep['synapses']['input']}, recurrent {rep['synapses']['recurrent']},"
             f" output {rep['synapses']['output']}; fan-in max {rep['synapses']['max_fan_in']},"
             f" mean {rep['synapses']['mean_fan_in']:.1f}",
             f"  fan-out         max {rep['fan_out']['max']} (limit {rep['fan_out']['limit']}); histogram "
             + ", ".join(f"{k}: {v}" for k, v in rep["fan_out"]["histogram"].items() if v),
             f"  aliases         {rep['aliases']['used']}",
             f"  weight shifts   in {rep['weight_shift']['in']}, rec {rep['weight_shift']['rec']},"
             f" out {rep['weight_shift']['out']} (max {rep['weight_shift']['limit']})"]
    return "\n".join(lines)
