"""Cycle-accurate integer simulator of the Loihi-style target (DESIGN.md 5.1, 5.2, 6.1).

Bit-exact with Lava's fixed-point LIF / Dense / DelayDense / Conv: all state is int64 and the
neuron rule is the one of :mod:`snnpipe.hwmap.targets.loihi`. Time steps follow Lava: at step t
(1-based) an input raster sends column t-1; a projection turns the spikes its source emits at
step t into input its target receives at step t + 1 + delay. Since every projection adds a
step, all populations update together from one state vector; input projections are computed a
block of steps at a time (one matrix product), projections between populations every step (a
gather of the active rows for one sample, a matrix product for a batch). Networks of Dense and
identity projections run instead in the compiled loop of :mod:`snnpipe.hwmap.intsim.loihi_kernel`
(numba, compiled on first use), and other feed-forward networks population by population
over all steps (:mod:`snnpipe.hwmap.intsim.loihi_layered`): the same integers either way;
``KERNEL`` picks the path.
Sigma-delta populations (netx's SDNN: Lava's Delta, SigmaDelta, Sigma) keep their own states
and send graded messages (:mod:`snnpipe.hwmap.intsim.loihi_sdnn`; numpy path), and so do
resonate-and-fire populations (Lava's RF, RF_IZ; :mod:`snnpipe.hwmap.intsim.loihi_rf`), which
send spikes.
"""
from __future__ import annotations

import numpy as np

from snnpipe.hwmap.intsim import loihi_layered as layered
from snnpipe.hwmap.intsim.energy import LoihiCosts
from snnpipe.hwmap.intsim.loihi_events import count_events, nonzero_events
from snnpipe.hwmap.intsim.loihi_result import LoihiResult
from snnpipe.hwmap.intsim.loihi_prepare import (Synapses, graded_mask, neuron_constants,
                                               reset_constants, split_by_delay)
from snnpipe.hwmap.intsim.loihi_rf import ResonatorPops
from snnpipe.hwmap.intsim.loihi_sdnn import SigmaDeltaPops, state_names
from snnpipe.hwmap.targets.loihi import ACTIVATION_SHIFT as ACT
from snnpipe.hwmap.targets.loihi import (graded_input, graded_payload, neuron_step_inplace,
                                         reset_due)
from snnpipe.hwmap.mappers.loihi_config import LoihiConfig
from snnpipe.pipeline.ir.errors import FormatError

BLOCK_ELEMENTS = 1 << 22  # time block: steps * batch * neurons of the largest population
# "auto": the numba loop when it applies and numba imports, else the layer-by-layer path for
# feed-forward networks (:mod:`snnpipe.hwmap.intsim.loihi_layered`), else step by step;
# "numpy": step by step; "numba"; "layered"
KERNEL = "auto"


def _inputs(cfg: LoihiConfig, inputs) -> tuple[dict, int, int]:
    """Input rasters -> {name: (B, N, T) int64, C-contiguous}, T, B."""
    if not isinstance(inputs, dict):
        if len(cfg.inputs) != 1:
            raise FormatError("several inputs: pass a dict name -> raster", field="inputs",
                              expected=sorted(cfg.inputs))
        inputs = {next(iter(cfg.inputs)): inputs}
    out, dims = {}, set()
    for name, shape in cfg.inputs.items():
        if name not in inputs:
            raise FormatError("missing input raster", field=name)
        x = np.asarray(inputs[name])
        n = int(np.prod(shape))
        if x.ndim >= 2 and x.shape[-2] != n and x.shape[-len(shape) - 1:-1] == tuple(shape):
            x = x.reshape(x.shape[:-len(shape) - 1] + (n, x.shape[-1]))
        x = x[None] if x.ndim == 2 else x
        if x.ndim != 3 or x.shape[1] != n or not np.issubdtype(x.dtype, np.integer) and \
                not np.array_equal(x, np.round(x)):
            raise FormatError("input raster must be integer counts (batch, channels, time)",
                              field=name, expected=f"(B, {n}, T)", found=x.shape)
        out[name] = np.ascontiguousarray(x, np.int64)
        dims.add((x.shape[0], x.shape[2]))
    if len(dims) != 1:
        raise FormatError("input rasters differ in batch or time", field="inputs", found=dims)
    b, t = dims.pop()
    return out, t, b


def _wanted(record, pop: str, var: str) -> bool:
    return var in record or f"{pop}/{var}" in record


def _check_record(cfg: LoihiConfig, record) -> None:
    names = {p.name for p in cfg.populations}
    for r in record:
        pop, _, var = r.rpartition("/")
        if var not in ("spikes", "u", "v", "sigma", "act", "residue", "real", "imag") or \
                (pop and pop not in names):
            raise FormatError("unknown state to record", field="record",
                              expected="spikes | u | v | sigma | act | residue | real | "
                                       "imag | <population>/<var>", found=r)


def simulate(cfg: LoihiConfig, inputs, record=("spikes",), costs: LoihiCosts = LoihiCosts()):
    """Run ``cfg`` on input rasters (B, N_in, T) of integer counts (or (N_in, T), or a dict
    name -> raster). ``record``: ``"u"``, ``"v"`` (every population) or ``"<pop>/<var>"``.
    Returns :class:`LoihiResult`; spikes of every population are always returned.
    """
    _check_record(cfg, record)
    x_in, T, B = _inputs(cfg, inputs)
    kernel = None if KERNEL == "layered" else _kernel(cfg)
    if KERNEL == "layered" and layered.order(cfg) is None:
        raise ValueError("the layer-by-layer path runs feed-forward LIF networks only")
    if kernel is not None:
        spikes, states, ev_b, ev_t = _run_kernel(cfg, x_in, T, B, record, kernel)
        events = (lambda: (ev_b, ev_t))               # counted inside the compiled loop
    else:
        layers = KERNEL == "layered" or (KERNEL == "auto" and layered.order(cfg) is not None)
        spikes, states = (layered.run if layers else _run_numpy)(cfg, x_in, T, B, record,
                                                                 _wanted)
        events = (lambda: nonzero_events(x_in, spikes))
    # counted on first use of ``counts`` or ``energy``: on a large network counting the events
    # costs about as much as the run
    return LoihiResult(spikes, states, lambda: count_events(cfg, *events(), T, B), costs)


def _kernel(cfg: LoihiConfig):
    """The numba module when ``KERNEL`` and the network allow it (Dense and identity
    projections only), else None."""
    if KERNEL == "numpy" or any(q.op not in ("dense", "identity") for q in cfg.projections) \
            or any(p.model in ("sigma_delta", "rf") for p in cfg.populations):
        if KERNEL == "numba":
            raise ValueError("the numba loop runs LIF neurons and Dense and identity "
                             "projections only")
        return None
    try:
        from snnpipe.hwmap.intsim import loihi_kernel
    except ImportError:                       # numba missing: the numpy path
        if KERNEL == "numba":
            raise
        return None
    return loihi_kernel


def _run_numpy(cfg: LoihiConfig, x_in: dict, T: int, B: int, record, wanted):
    """The numpy path. Returns spikes {pop: (B, N, T) uint8, int64 messages with sigma-delta
    populations} and states {"<pop>/u": (B, n_syn, N, T), "<pop>/<v|sigma|act|residue>": (B,
    N, T)}; ``wanted(record, pop, var)`` says which states to keep."""
    net = _FlatNet(cfg, B, T)
    x_in = {k: np.ascontiguousarray(v.transpose(2, 0, 1)) for k, v in x_in.items()}
    spikes = np.empty((T, B, net.n), np.int64 if net.sd or net.graded is not None else np.uint8)
    rec = {}
    for p in cfg.populations:
        for var in state_names(p):
            if wanted(record, p.name, var):
                rec[f"{p.name}/{var}"] = np.empty((T,) + net.state(p.name, var).shape, np.int64)
    for t0 in range(0, T, net.tb):
        t1 = min(T, t0 + net.tb)
        for s in net.external:
            net.add_block(s, x_in[s.q.src][t0:t1])
        for t in range(t0, t1):
            spikes[t] = net.step(t - t0, t + 1)
            for s in net.internal:
                net.add_step(s, spikes[t, :, net.slice[s.q.src]], t - t0)
            for key, arr in rec.items():
                arr[t] = net.state(*key.rsplit("/", 1))
        net.next_block(t1 - t0)
    return ({p.name: np.ascontiguousarray(spikes[:, :, net.slice[p.name]].transpose(1, 2, 0))
             for p in cfg.populations},
            {k: np.ascontiguousarray(v.transpose((2, 1, 3, 0) if v.ndim == 4 else (1, 2, 0)))
             for k, v in rec.items()})


def _run_kernel(cfg: LoihiConfig, x_in: dict, T: int, B: int, record, kernel):
    """The numba path (:mod:`snnpipe.hwmap.intsim.loihi_kernel`); returns as :func:`_run_numpy`
    and the non-zero events the loop counted, as
    :func:`snnpipe.hwmap.intsim.loihi_events.nonzero_events` does."""
    n_syn, n, slices, keep, bias, theta = neuron_constants(cfg)
    names = list(cfg.inputs)
    sizes = [x_in[k].shape[1] for k in names]
    in_sl = {k: slice(int(a), int(a) + m) for k, a, m in zip(names, np.cumsum([0] + sizes), sizes)}
    xs = x_in[names[0]] if len(names) == 1 else np.concatenate([x_in[k] for k in names], 1)
    terms, ws, w_off, d_max = [], [], 0, 0
    for q in cfg.projections:
        src = in_sl[q.src].start if q.src in cfg.inputs else slices[q.src].start
        payload = q.src not in cfg.inputs and cfg.population(q.src).spike == "graded"
        for d, wi in split_by_delay(q):
            exp = int(q.weight_exp)
            if exp >= 0:
                wi = wi << (exp + (0 if payload else ACT))
            terms.append((q.src in cfg.inputs, src, wi.shape[0], slices[q.dst].start,
                          cfg.population(q.dst).size, d, q.syn, exp, q.message_bits > 0,
                          q.op == "identity", w_off, payload))
            ws.append(wi.ravel())
            w_off += wi.size
            d_max = max(d_max, d)
    terms = np.array(terms, np.int64).reshape(-1, kernel.N_COLS)
    w = np.concatenate(ws) if ws else np.zeros(0, np.int64)
    idx, cols = {}, {}
    for var in ("u", "v"):
        idx[var], c = np.full(n, -1, np.int64), 0
        for p in cfg.populations:
            if _wanted(record, p.name, var):
                idx[var][slices[p.name]] = np.arange(c, c + p.size)
                cols[p.name, var] = slice(c, c + p.size)
                c += p.size
        cols[var] = c
    rec_u = np.empty((B if cols["u"] else 0, n_syn, cols["u"], T), np.int64)
    rec_v = np.empty((B if cols["v"] else 0, cols["v"], T), np.int64)
    graded = graded_mask(cfg).astype(np.int64)
    spikes = np.empty((B, n, T), np.int64 if graded.any() else np.uint8)
    ev = [np.zeros(shape, np.int64) for shape in ((B, xs.shape[1]), (T, xs.shape[1]), (B, n),
                                                   (T, n))]
    kernel.run(xs, np.ascontiguousarray(keep[:, 0]), bias, theta, graded, *reset_constants(cfg),
               terms, w, d_max + 2, spikes,
               idx["u"], rec_u, idx["v"], rec_v, *ev)
    states = {}
    for p in cfg.populations:
        if (p.name, "u") in cols:
            states[f"{p.name}/u"] = np.ascontiguousarray(rec_u[:, :p.n_syn, cols[p.name, "u"]])
        if (p.name, "v") in cols:
            states[f"{p.name}/v"] = np.ascontiguousarray(rec_v[:, cols[p.name, "v"]])
    spk = {p.name: spikes[:, slices[p.name]] for p in cfg.populations}
    if len(spk) > 1:
        spk = {k: np.ascontiguousarray(v) for k, v in spk.items()}
    ev = [e.astype(np.float64) for e in ev]
    per_sample = {**{k: ev[0][:, in_sl[k]] for k in names},
                  **{p.name: ev[2][:, slices[p.name]] for p in cfg.populations}}
    per_step = {**{k: ev[1][:, in_sl[k]] for k in names},
                **{p.name: ev[3][:, slices[p.name]] for p in cfg.populations}}
    return spk, states, per_sample, per_step


class _FlatNet:
    """Every population in one state vector: ``x`` (n_syn + 1, B, N_total) holds the currents
    and the voltage; inputs wait in ``pending`` (n_syn, block + max delay + 1, B, N_total),
    already shifted left by 6: input projections are computed a block of steps at a time,
    projections between populations every step."""

    def __init__(self, cfg: LoihiConfig, B: int, T: int):
        self.n_syn, self.n, self.slice, self.keep, self.bias, self.theta = neuron_constants(cfg)
        self.pops = {p.name: p for p in cfg.populations}
        self.synapses = [Synapses(cfg, q) for q in cfg.projections]
        self.external = [s for s in self.synapses if s.q.src in cfg.inputs]
        self.internal = [s for s in self.synapses if s.q.src not in cfg.inputs]
        self.x = np.zeros((self.n_syn + 1, B, self.n), np.int64)
        self.reset = reset_constants(cfg)
        self.resets = bool(self.reset[0].any())
        graded = graded_mask(cfg)                # graded CUBA payloads: the pre-reset voltage
        self.graded = graded if graded.any() else None
        self.v_pre = np.empty((B, self.n), np.int64) if graded.any() else None
        self.sd = SigmaDeltaPops(cfg, B, self.slice)
        self.rf = ResonatorPops(cfg, B, self.slice)
        self.tmp = np.empty_like(self.x)
        self.tb = int(max(1, min(T, BLOCK_ELEMENTS // max(1, B * self.n))))
        d_max = max([s.max_delay for s in self.synapses] + [0])
        self.pending = np.zeros((self.n_syn, self.tb + d_max + 1, B, self.n), np.int64)
        # graded CUBA input in 1/2^18 (targets.loihi.graded_input), when any population sends it
        self.fine = np.zeros_like(self.pending) if self.graded is not None else None

    def add_block(self, s: Synapses, x: np.ndarray) -> None:
        """Input projection over a block: x (Tb, B, N_src) -> arrivals at t + 1 + delay."""
        tb, b = x.shape[:2]
        sl = self.slice[s.q.dst]
        for d, acc in s.apply(x.reshape(tb * b, -1)):
            self.pending[s.q.syn, 1 + d:1 + d + tb, :, sl] += acc.reshape(tb, b, -1) << ACT

    def add_step(self, s: Synapses, x: np.ndarray, k: int) -> None:
        """Spikes (B, N_src) a population emits at block position k -> arrivals k + 1 + delay."""
        sl = self.slice[s.q.dst]
        for d, acc in s.apply(x):
            if s.payload:                            # summed whole, truncated at the step
                self.fine[s.q.syn, k + 1 + d, :, sl] += acc
            else:
                self.pending[s.q.syn, k + 1 + d, :, sl] += acc << ACT

    def step(self, k: int, t: int) -> np.ndarray:
        """Block position k, step t (1-based): reset where due, receive, update u and v,
        spike. Returns spikes (B, N) (int64 with the messages of sigma-delta populations,
        which update after the LIF rule)."""
        if self.resets:
            self.x[:, :, reset_due(t, *self.reset)] = 0
        if self.fine is not None:
            self.pending[:, k] = graded_input(self.pending[:, k], self.fine[:, k])
        s = neuron_step_inplace(self.x, self.pending[:, k], self.keep, self.bias, self.theta,
                                self.tmp, self.v_pre)
        if self.graded is not None:
            s = np.where(self.graded, graded_payload(self.v_pre, s), s)
        s = self.sd.step(self.pending[0, k], s) if self.sd else s
        return self.rf.step(self.pending[:, k], s) if self.rf else s

    def state(self, pop: str, var: str) -> np.ndarray:
        """u (n_syn, B, N), v (B, N) or a sigma-delta state (B, N) of one population, now."""
        if var in ("real", "imag"):
            return self.rf.state(pop, var)
        if var not in ("u", "v"):
            return self.sd.state(pop, var)
        sl = self.slice[pop]
        return self.x[:self.pops[pop].n_syn, :, sl] if var == "u" else self.x[-1, :, sl]

    def next_block(self, tb: int) -> None:
        """Move arrivals beyond the block to its start."""
        for buf in (self.pending, self.fine) if self.fine is not None else (self.pending,):
            tail = buf[:, tb:].copy()
            buf[:] = 0
            buf[:, :tail.shape[1]] = tail
