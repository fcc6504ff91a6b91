"""Run any Graph in torch with the models' neuron step functions (inference, verification).

``build(graph, precision) -> GraphModel``: dense / conv / conv_transpose / identity edges, merges,
recurrent edges, per-synapse delays, multi-synapse ``cuba`` and ``li`` populations, in one of the
precisions of :mod:`snnpipe.models.neurons.registry` (``loihi``, ``float``, ``xylo``), and
``sigma_delta`` populations (lava-dl's SDNN, :mod:`snnpipe.models.neurons.sigma_delta`: graded
messages) and ``rf`` populations (resonate-and-fire, :mod:`snnpipe.models.neurons.rf`) in
``loihi`` and ``float``.

Timing (one convention for every backend; index t of every array is one time step):
    * an input node emits column t of its raster at index t;
    * a projection (dense, conv or identity edge into a neuron) delivers what its source
      emitted at index t at index ``t + latency + delay``, with ``latency`` 1 (Lava's Dense
      latency; Xylo's hidden -> hidden and hidden -> output hops) except for edges out of
      inputs in the ``xylo`` precision, whose latency is 0 (Xylo adds input events to the
      currents in the same step); ``input_latency`` overrides it;
    * a population updates at index t from what arrives at t and emits at t; one with a
      ``reset_interval`` starts index t from rest where Lava's step t + 1 is due
      (:func:`snnpipe.hwmap.targets.loihi.reset_due`; the step functions stay pure);
    * a merge emits at t the weighted sum of what its sources emit at ``t - delay`` (no latency:
      Lava folds merges into the consumer's synapses, Xylo copies spikes by aliases in the step).
So index t here is Lava's raw index t (Lava step t + 1, ``snnpipe.processes.run.Record.raw``) and index
t of the integer simulators (``snnpipe.hwmap.intsim.loihi``, ``snnpipe.hwmap.intsim.xylo``): the offset to
them is 0. A node L projections from the input first responds at index ``t + L``
(``GraphModel.latency``); a SLAYER network whose blocks delay by one step (DESIGN.md 5.4)
emits block k's output at the same index as population k here.

Weights per precision: ``loihi`` SLAYER's 8-bit quantiser (even integers in 1/64, as Lava and
the Loihi mapper apply them), composed through merges before quantisation as Lava's lowering
does; conv activations wrap at 24 bits as Lava's Conv; ``xylo`` int8 in 1/64 units
(:func:`snnpipe.models.neurons.cuba_xylo.quantize_weight_xylo`), input counts clipped to 15 per step;
``float`` as stored. ``quantize=False`` uses the stored weights in every precision (for graphs
whose weights already are the chip's integers, such as the Xylo mapped graph of
``snnpipe.hwmap.mappers.xylo_graph``). In the ``xylo`` precision merges are not folded (a hop reads the
merge's sum, capped at 31 as Xylo's alias relays) and a step's input to a current that could
saturate 16 bits is added event by event in the chip's order (``source_order``).
"""
from __future__ import annotations

import numpy as np
import torch

from snnpipe.hwmap.targets import loihi, xylo
from snnpipe.models.graph_hops import Hop, channel_weight, convolve, latencies, lower
from snnpipe.models.xylo_order import xylo_ordered
from snnpipe.models.neurons.registry import PRECISIONS as NEURON_PRECISIONS
from snnpipe.models.neurons.rf import rf_node
from snnpipe.models.neurons.sigma_delta import STEPS as SD_STEPS
from snnpipe.models.neurons.sigma_delta import initial_sigma_delta, sigma_delta_params
from snnpipe.models.neurons.state import CubaParams, initial_state
from snnpipe.pipeline.ir.errors import GraphError
from snnpipe.pipeline.ir.graph import size, topological_order

PRECISIONS = ("loihi", "float", "xylo")
CUBA_RECORD = ("u", "v", "x", "spikes", "ordered")
SD_RECORD = ("sigma", "act", "residue", "spikes")     # sigma-delta: spikes are the messages
RF_RECORD = ("real", "imag", "spikes")


def _params(attrs: dict, dtype) -> CubaParams:
    n_syn = int(attrs.get("n_syn", 1))
    cd = np.asarray(attrs["current_decay"], np.float64)
    cd = cd.reshape(n_syn, -1) if cd.ndim else np.full((n_syn, 1), float(cd))

    def t(x):
        return torch.as_tensor(np.asarray(x, np.float64), dtype=dtype).reshape(-1) \
            if np.size(x) > 1 else torch.as_tensor(float(np.asarray(x).reshape(-1)[0]), dtype=dtype)

    th = attrs.get("threshold") if attrs["model"] != "li" else None
    return CubaParams(torch.as_tensor(cd, dtype=dtype), t(attrs["voltage_decay"]),
                           None if th is None else t(th), t(attrs.get("bias", 0.0)),
                           attrs.get("reset", "zero"), attrs.get("spike", "binary"),
                           int(attrs.get("refractory", 0)))


class GraphModel(torch.nn.Module):
    """A Graph as a torch module (built by :func:`build`; inference only, no gradients).

    Attributes: ``precision``; ``hops`` (:class:`Hop`); ``latency``: node -> steps to its
    first response; ``t_offset`` = 0: index t equals Lava's raw index and the integer
    simulators' index t (see the module docstring).
    """

    t_offset = 0

    def __init__(self, graph, precision: str = "loihi", quantize: bool = True,
                 input_latency: int | None = None, dtype=torch.float64, source_order=None):
        super().__init__()
        if precision not in PRECISIONS:
            raise GraphError("unknown precision", field="precision", expected=PRECISIONS,
                             found=precision)
        self.graph, self.precision, self.dtype = graph, precision, dtype
        self.order = topological_order(graph)
        self.pops = [n for n in self.order if graph.nodes[n]["kind"] == "neuron"]
        self.rf = {n: rf_node(n, graph.nodes[n], precision) for n in self.pops
                   if graph.nodes[n]["model"] == "rf"}
        self.sd = {n: sigma_delta_params(graph.nodes[n], dtype) for n in self.pops
                   if graph.nodes[n]["model"] == "sigma_delta"}
        if self.sd and precision not in SD_STEPS:
            raise GraphError("sigma-delta populations run in the float and loihi precisions",
                             where=next(iter(self.sd)), field="precision",
                             expected=sorted(SD_STEPS), found=precision)
        self.merges = [n for n in self.order if graph.nodes[n]["kind"] == "merge"]
        self.graded = {n: graph.nodes[n].get("spike") == "graded" for n in self.pops}
        self.params = {n: _params(graph.nodes[n], dtype) for n in self.pops
                       if n not in self.sd and n not in self.rf}
        # Lava's LIFReset: the state is set back to rest at the start of the steps it names
        self.resets = {n: (graph.nodes[n]["reset_interval"], graph.nodes[n]["reset_offset"])
                       for n in self.params if graph.nodes[n].get("reset_interval")}
        if self.resets and precision == "xylo":
            raise GraphError("a periodic state reset (Lava's LIFReset) runs in the loihi and "
                             "float precisions", where=next(iter(self.resets)),
                             field="reset_interval", expected="no reset for xylo",
                             found=graph.nodes[next(iter(self.resets))]["reset_interval"])
        self.extras = {n: NEURON_PRECISIONS[precision].extra(p) for n, p in self.params.items()}
        self.hops = lower(graph, precision, quantize, input_latency, dtype)
        self.latency = latencies(graph, self.hops)
        order = list(source_order) if source_order is not None else \
            list(graph.graph["inputs"]) + [n for n in self.order if n not in graph.graph["inputs"]]
        self.rank = {n: i for i, n in enumerate(order)}

    def _inputs(self, x) -> dict:
        names = self.graph.graph["inputs"]
        if not isinstance(x, dict):
            x = {names[0]: x}
        out = {}
        for name in names:
            a = torch.as_tensor(np.asarray(x[name]) if not torch.is_tensor(x[name]) else x[name])
            shape = self.graph.nodes[name]["shape"]
            a = a.to(self.dtype)
            a = a[None] if a.dim() == 2 or (len(shape) > 1 and a.dim() == len(shape) + 1) else a
            a = a.reshape(a.shape[0], -1, a.shape[-1])
            if a.shape[1] != size(shape):
                raise GraphError("input raster has the wrong number of channels", where=name,
                                 field="inputs", expected=size(shape), found=a.shape[1])
            if self.precision == "xylo":
                a = a.clamp(0, xylo.MAX_INPUT_EVENTS)
            out[name] = a
        return out

    def _apply(self, h: Hop, src: torch.Tensor, w) -> torch.Tensor:
        """Weighted input (B, N_dst) of source values ``src`` (B, N_src) through one term."""
        if h.op == "dense":
            return src @ w.T
        if h.op == "identity":
            return src * w
        c = h.conv
        if "matrix" in c:
            y = (src * h.in_scale) @ c["matrix"].T
        else:
            x = (src * h.in_scale).reshape((src.shape[0],) + c["in_shape"])
            y = convolve(x, w, c).reshape(src.shape[0], -1)
        if self.precision == "loihi" and not c["transposed"] and not self.graded.get(h.src):
            # Lava's Conv wraps its output at 24 bits (integers); graded CUBA payloads (the
            # pre-reset voltage) enter whole, as slayer computes them (hwmap.targets.loihi)
            unit = loihi.WEIGHT_UNIT * (self.sd[h.src].message_unit if h.src in self.sd else 1)
            y = loihi.wrap_activation(torch.round(y * unit).long()) / unit
        return y.to(self.dtype)

    @torch.no_grad()
    def forward(self, x, record: bool = False):
        """Run from rest.

        Args:
            x: input counts (batch, channels, time) (or (channels, time), or the input's shape
                in place of channels) for the first graph input, or a dict input -> raster.
            record: also return the states.
        Returns:
            the first output's emission (batch, N, T): spike counts of a ``cuba`` population,
            ``v`` of an ``li`` (float units), the sum of a merge; with ``record=True`` also
            ``{node: {"u": (B, n_syn, N, T), "v": (B, N, T) after reset, "x": (B, n_syn, N, T)
            weighted input, "spikes": (B, N, T), "ordered": (B, n_syn, N, T) bool}}`` in float
            units (loihi: integer / 4096, xylo: integer / 1024, exact in float64), and for
            merges ``{"spikes": ...}``; sigma-delta populations ``{"sigma", "act", "residue",
            "spikes": the messages}`` (B, N, T), float units; rf populations ``{"real", "imag",
            "spikes"}``. ``ordered`` marks the xylo currents whose step sum could
            saturate and was added event by event, as the chip does.
        """
        xs = self._inputs(x)
        batch, steps = next(iter(xs.values())).shape[0], next(iter(xs.values())).shape[-1]
        emitted = {n: [a[..., t] for t in range(steps)] for n, a in xs.items()}
        for n in self.pops + self.merges:
            emitted[n] = []
        states = {n: initial_state(batch, p.n_syn, size(self.graph.nodes[n]["shape"]),
                                   self.dtype) for n, p in self.params.items()}
        states.update({n: initial_sigma_delta(batch, size(self.graph.nodes[n]["shape"]),
                                              self.dtype) for n in self.sd})
        states.update({n: r.initial(batch, size(self.graph.nodes[n]["shape"]))
                       for n, r in self.rf.items()})
        rec = {n: {k: [] for k in (SD_RECORD if n in self.sd else RF_RECORD if n in self.rf
                                   else CUBA_RECORD)} for n in self.pops}
        by_dst = {n: [h for h in self.hops if h.dst == n] for n in self.pops}
        step = NEURON_PRECISIONS[self.precision].step
        for t in range(steps):
            for n in self.pops:
                st = states[n]
                n_syn = 1 if n in self.sd else 2 if n in self.rf else st.u.shape[1]
                z = torch.zeros((batch, n_syn, size(self.graph.nodes[n]["shape"])),
                                dtype=self.dtype)
                events = []
                for h in by_dst[n]:
                    for d, w in h.terms:
                        i = t - h.latency - d
                        if i >= 0:
                            z[:, h.syn] += self._apply(h, emitted[h.src][i], w)
                            if self.precision == "xylo":
                                events.append((self.rank.get(h.src, 0), h, w, emitted[h.src][i]))
                if n in self.rf:
                    spk, states[n], (re, im) = self.rf[n].step(z, st)
                    emitted[n].append(spk)
                    for k, val in zip(RF_RECORD, (re, im, spk)) if record else ():
                        rec[n][k].append(val)
                    continue
                if n in self.sd:
                    msg, states[n] = SD_STEPS[self.precision](z[:, 0], st, self.sd[n])
                    emitted[n].append(msg)
                    for k, val in zip(SD_RECORD, (*states[n], msg)) if record else ():
                        rec[n][k].append(val)
                    continue
                if n in self.resets and loihi.reset_due(t + 1, *self.resets[n]):
                    st = initial_state(batch, st.u.shape[1], st.u.shape[2], self.dtype)
                ordered = torch.zeros(st.u.shape, dtype=torch.bool)
                if self.precision == "xylo" and events:
                    z, ordered = xylo_ordered(st.u, z, events)
                s, u, v_pre, states[n] = step(z, st, self.params[n], *self.extras[n])
                out = v_pre if s is None else s
                emitted[n].append(out)
                if record:
                    for k, val in (("u", u), ("v", states[n].v), ("x", z), ("spikes", out),
                                   ("ordered", ordered)):
                        rec[n][k].append(val)
            for m in self.merges:
                total = torch.zeros(batch, size(self.graph.nodes[m]["shape"]), dtype=self.dtype)
                for u, _, d in self.graph.in_edges(m, data=True):
                    i = t - int(np.max(d.get("delay", 0)))
                    if i >= 0:
                        total = total + emitted[u][i] * torch.as_tensor(
                            channel_weight(d["weight"], self.graph.nodes[m]["shape"], total.shape[1]),
                            dtype=self.dtype)
                if self.precision == "xylo":     # alias copies saturate at 31 spikes
                    total = total.clamp(max=xylo.HIDDEN_CAP)
                emitted[m].append(total)
        first = torch.stack(emitted[self.graph.graph["outputs"][0]], -1)
        if not record:
            return first
        out = {n: {k: torch.stack(v, -1) for k, v in r.items()} for n, r in rec.items()}
        out.update({m: {"spikes": torch.stack(emitted[m], -1)} for m in self.merges})
        return first, out


def build(graph, precision: str = "loihi", quantize: bool = True, input_latency: int | None = None,
          dtype=torch.float64, source_order=None) -> GraphModel:
    """A torch module that runs ``graph`` in ``precision`` ("loihi" | "float" | "xylo").

    ``quantize``: apply the precision's weight quantiser (False: use the stored weights);
    ``input_latency``: steps of the projections out of inputs (default 1, xylo 0; see the
    module docstring); ``source_order``: nodes in the order the chip processes their events
    (xylo: inputs, then hidden neurons by index; default: inputs, then topological order).
    Raises GraphError for an unknown precision or a non-identity merge input.
    """
    return GraphModel(graph, precision, quantize, input_latency, dtype, source_order)


__all__ = ["build", "GraphModel", "Hop", "lower", "latencies", "PRECISIONS"]
