"""Energy and latency estimates from event counts, with a documented, configurable cost table.

The default :class:`LoihiCosts` are the per-operation figures of Loihi 1 reported by Davies et
al., "Loihi: a neuromorphic manycore processor with on-chip learning", IEEE Micro 38(1), 2018,
Table 1 (14 nm, nominal voltage), as approximations: Loihi 2 (Orchard et al., "Efficient
neuromorphic signal processing with Loihi 2", SiPS 2021) is reported to be up to ~10x faster
per time step with similar or lower energy per operation, so treat the results as an order of
magnitude, not a measurement. Static/leakage power and the host are not modelled.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class LoihiCosts:
    """Energy (pJ) and time (ns) per event.

    Energy figures: Davies et al. 2018, Table 1, as recalled (approximate; check the paper
    before quoting): 23.6 pJ per synaptic spike operation, 52 pJ per active neuron update,
    1.7 pJ per spike within a tile, a few pJ per mesh hop. Inter-chip energy and all times are
    assumptions of the same order, not published figures.
    """

    synop_pj: float = 23.6            # per synaptic spike operation (minimum figure)
    neuron_update_pj: float = 52.0    # per active neuron (compartment) update
    spike_local_pj: float = 1.7       # a spike message within a tile
    spike_hop_pj: float = 3.5         # a spike message to another core (one mesh hop)
    spike_chip_pj: float = 100.0      # a spike message between chips (assumed)
    input_spike_pj: float = 3.5       # an input event delivered to a core (as one hop)
    synop_ns: float = 3.5             # per synaptic operation, serial within a core (assumed)
    neuron_update_ns: float = 8.4     # per neuron update, serial within a core (assumed)
    spike_hop_ns: float = 4.1         # per spike message leaving a core (assumed)
    barrier_ns: float = 465.0         # end-of-step barrier synchronisation (assumed)


def estimate(counts, costs: LoihiCosts = LoihiCosts()) -> dict:
    """Energy (J, per sample) and latency (s, per inference) from :class:`EventCounts`.

    Energy per sample = synops * synop + neuron updates * neuron_update + local/inter-core/
    inter-chip/input messages * their costs. Latency = sum over steps of the slowest core's
    serial work (mean sample) + messages leaving it + the barrier.
    """
    pj = 1e-12
    e_syn = counts.synops.sum(axis=1) * costs.synop_pj * pj
    e_neu = np.full(counts.synops.shape[0], counts.neuron_updates.sum() * costs.neuron_update_pj * pj)
    e_msg = (counts.local_messages * costs.spike_local_pj + counts.core_messages * costs.spike_hop_pj
             + counts.chip_messages * costs.spike_chip_pj
             + counts.input_messages * costs.input_spike_pj) * pj
    b = max(counts.synops.shape[0], 1)
    t_core = (counts.step_synops / b * costs.synop_ns
              + counts.neurons_per_core[None, :] * costs.neuron_update_ns
              + counts.step_messages_out / b * costs.spike_hop_ns)
    t_step = t_core.max(axis=1, initial=0.0) + costs.barrier_ns
    total = e_syn + e_neu + e_msg
    return {"energy_j": total, "energy_synops_j": e_syn, "energy_neurons_j": e_neu,
            "energy_messages_j": e_msg, "latency_s": float(t_step.sum() * 1e-9),
            "mean_energy_j": float(total.mean()) if total.size else 0.0, "costs": asdict(costs)}
