"""Event counts of a Loihi-style run: synaptic operations, spikes and messages per core.

What one spike of a source neuron costs depends only on the mapped network (which cores its
synapses reach), so those tables are built once per :class:`LoihiConfig` (on its first run)
and a run's counts are products of its per-neuron event counts with them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

from snnpipe.hwmap.intsim.loihi_prepare import per_config
from snnpipe.hwmap.intsim.loihi_result import EventCounts
from snnpipe.hwmap.mappers.loihi_config import LoihiConfig
from snnpipe.hwmap.mappers.loihi_conv import conv_int
from snnpipe.hwmap.mappers.loihi_map import connectivity

MESSAGE_KINDS = ("local", "core", "chip")   # to the source's own core, another core, another chip


@dataclass
class ProjectionCost:
    """Per source neuron of one projection: ``fan`` (N_src, n_cores) synapses into each core
    (sparse: a neuron reaches few cores);
    ``messages``: kind -> (N_src,) messages per spike (populations) or, for an input,
    ``{"input": (N_src,)}`` cores reached."""

    src: str
    fan: csr_matrix
    messages: dict
    conv: tuple | None = None   # a conv's (source shape, 0/1 kernel, geometry, dst -> core)

    def synapse_events(self, events: np.ndarray) -> np.ndarray:
        """Synaptic events per core (M, n_cores) of source events (M, N_src): ``events @ fan``,
        for a convolution as the convolution of the events with its 0/1 kernel summed over
        each core's neurons (the same integers, far cheaper than a sparse product)."""
        if self.conv is None:
            return np.asarray(self.fan.T @ events.T).T
        shape, mask, geometry, onehot = self.conv
        per_dst = conv_int(events.reshape((-1,) + shape), mask, geometry)
        return np.asarray(onehot.T @ per_dst.reshape(len(events), -1).T).T


def _fan(mask, dst_cores: list, nc: int) -> np.ndarray:
    """Synapses from each source neuron into each core, (N_src, n_cores) float64, from the
    (N_dst, N_src) connectivity (dense or sparse) and the cores holding the destination."""
    rows = np.concatenate([np.arange(c["start"], c["stop"]) for c in dst_cores] or [[]])
    cols = np.concatenate([np.full(c["stop"] - c["start"], c["core"]) for c in dst_cores] or [[]])
    onehot = csr_matrix((np.ones(rows.size), (rows.astype(np.int64), cols.astype(np.int64))),
                        shape=(mask.shape[0], nc))
    fan = onehot.T @ (mask if isinstance(mask, np.ndarray) else mask.astype(np.float64))
    return np.asarray(fan.toarray() if hasattr(fan, "toarray") else fan, np.float64).T


def cores_of(cfg: LoihiConfig) -> list:
    """The cores of ``cfg`` (one per population when it was not partitioned)."""
    return cfg.cores or [{"core": i, "chip": 0, "pop": p.name, "start": 0, "stop": p.size}
                         for i, p in enumerate(cfg.populations)]


def projection_costs(cfg: LoihiConfig) -> list[ProjectionCost]:
    """One :class:`ProjectionCost` per projection of ``cfg``."""
    cores = cores_of(cfg)
    nc, chips = len(cores), np.array([c["chip"] for c in cores])
    core_of: dict = {}
    for c in cores:
        core_of.setdefault(c["pop"], []).append(c)
    out = []
    for q in cfg.projections:
        fan = _fan(connectivity(cfg, q), core_of.get(q.dst, []), nc)
        reach = fan > 0
        if q.src in cfg.inputs:
            out.append(ProjectionCost(q.src, csr_matrix(fan),
                                      {"input": reach.sum(axis=1).astype(float)},
                                      _conv(cfg, q, core_of, nc)))
            continue
        msgs = {k: np.zeros(fan.shape[0]) for k in MESSAGE_KINDS}
        for c in core_of[q.src]:
            own = np.zeros(nc, bool)
            own[c["core"]] = True
            sel = {"local": own, "chip": chips != c["chip"], "core": ~own & (chips == c["chip"])}
            for k in MESSAGE_KINDS:
                msgs[k][c["start"]:c["stop"]] = reach[c["start"]:c["stop"]][:, sel[k]].sum(axis=1)
        out.append(ProjectionCost(q.src, csr_matrix(fan), msgs, _conv(cfg, q, core_of, nc)))
    return out


def _conv(cfg: LoihiConfig, q, core_of: dict, nc: int) -> tuple | None:
    """What :meth:`ProjectionCost.synapse_events` needs to count a conv's events by
    convolution (None for other projections)."""
    if q.op != "conv":
        return None
    n_dst = cfg.population(q.dst).size
    rows = np.concatenate([np.arange(c["start"], c["stop"]) for c in core_of[q.dst]])
    cols = np.concatenate([np.full(c["stop"] - c["start"], c["core"]) for c in core_of[q.dst]])
    onehot = csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n_dst, nc))
    mask = (np.asarray(q.weight) != 0).astype(np.float64)
    return tuple(cfg.node_shape(q.src)), mask, q.conv, onehot


def nonzero_events(x_in: dict, spikes: dict) -> tuple[dict, dict]:
    """The non-zero events of every input and population of a run, from its input rasters and
    spikes {name: (B, N, T)}: per sample {name: (B, N)} and per step {name: (T, N)}, float64."""
    nz = {k: v != 0 for k, v in {**x_in, **spikes}.items()}
    return ({k: v.sum(axis=2, dtype=np.float64) for k, v in nz.items()},
            {k: v.sum(axis=0, dtype=np.float64).T for k, v in nz.items()})


def count_events(cfg: LoihiConfig, per_sample: dict, per_step: dict, T: int,
                 B: int) -> EventCounts:
    """Synaptic operations, spikes and messages per core from the non-zero events of every
    input and population, per sample {name: (B, N)} and per step {name: (T, N)}, float64."""
    cores = cores_of(cfg)
    nc = len(cores)
    z = dict(synops=np.zeros((B, nc)), spikes=np.zeros((B, nc)), local=np.zeros(B),
             core=np.zeros(B), chip=np.zeros(B), input=np.zeros(B),
             step_synops=np.zeros((T, nc)), step_spikes=np.zeros((T, nc)),
             step_out=np.zeros((T, nc)))
    core_index = {}
    for c in cores:
        core_index.setdefault(c["pop"], []).append(c)
    for cost in per_config(cfg, projection_costs):
        ev_b, ev_t = per_sample[cost.src], per_step[cost.src]
        both = cost.synapse_events(np.concatenate([ev_b, ev_t]))
        z["synops"] += both[:B]
        z["step_synops"] += both[B:]
        for k, per_neuron in cost.messages.items():
            z[k] += ev_b @ per_neuron
        for c in core_index.get(cost.src, []) if "input" not in cost.messages else []:
            sl = slice(c["start"], c["stop"])
            z["step_out"][:, c["core"]] += ev_t[:, sl] @ (cost.messages["core"][sl]
                                                          + cost.messages["chip"][sl])
    for name, cs in core_index.items():
        for c in cs:
            z["spikes"][:, c["core"]] = per_sample[name][:, c["start"]:c["stop"]].sum(axis=1)
            z["step_spikes"][:, c["core"]] = per_step[name][:, c["start"]:c["stop"]].sum(axis=1)
    npc = np.array([c["stop"] - c["start"] for c in cores], np.int64)
    return EventCounts(z["synops"], z["spikes"], z["local"], z["core"], z["chip"], z["input"],
                       z["step_synops"], z["step_spikes"], z["step_out"], npc, npc * T)
