"""Graph -> Lava processes (lava-nc's own where they fit, ours elsewhere).

Populations: a ``cuba`` node with one current, uniform decays and threshold, zero reset and
binary spikes becomes lava-nc's ``LIF`` (``LIFReset`` with a ``reset_interval``); other
``cuba`` nodes become :class:`MultiSynCuba`
(one port per current, per-neuron decays and thresholds, subtractive reset); ``li`` nodes become
:class:`LeakyReadout` (graded output ``v``); ``sigma_delta`` nodes lava-nc's ``Delta``,
``SigmaDelta`` or ``Sigma`` (:mod:`snnpipe.processes.sdnn`), sending graded messages; ``rf``
nodes lava-nc's ``RF`` or ``RF_IZ`` (:mod:`snnpipe.processes.rf`), current 0 the real input. Projections (see :mod:`snnpipe.processes.lowering`) become
``Dense`` (or ``DelayDense`` when any delay is non-zero) or ``Conv`` into the target's synapse
port, graded (``num_message_bits = 24``) when the source sends counts or values. Fan-in adds
at the port; merges are folded into their consumers. Inputs and outputs are left open:
:func:`snnpipe.processes.run.run` attaches a RingBuffer source per input and a sink per output.

Every projection delays by one Lava step (plus its delay), so a node that is L projections
from the input responds to input column t at array index t + L (``LavaNetwork.latency``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from lava.proc.conv.process import Conv
from lava.proc.dense.process import DelayDense, Dense
from lava.proc.lif.process import LIF, LIFReset

from snnpipe.hwmap.targets.loihi import weight_to_int
from snnpipe.pipeline.ir.errors import GraphError
from snnpipe.pipeline.ir.graph import size, topological_order
from snnpipe.pipeline.ir.validate import check
from snnpipe.processes.lowering import Projection, Tap, latencies, lower, output_taps
from snnpipe.processes.multisyn.process import MAX_SYN, LeakyReadout, MultiSynCuba, syn_port_name
from snnpipe.processes import rf, sdnn
from snnpipe.processes.params import PRECISIONS, neuron_params, projection_weights

GRADED_BITS = 24


@dataclass
class LavaNetwork:
    """The Lava processes of one Graph, ready for :func:`snnpipe.processes.run.run` (single use).

    ``populations``: node -> neuron process; ``synapses``: projection name -> Dense,
    DelayDense or Conv process; ``input_ports``: graph input -> [(``s_in`` port its source must
    drive, (C, H, W) for a Conv else None)] (connect with :func:`connect_source`); ``taps``:
    graph output -> its contributions (a neuron output is one tap of weight 1); ``latency``:
    node -> steps (see module doc); ``shapes``: node -> graph shape.
    """

    graph: object
    precision: str
    populations: dict = field(default_factory=dict)
    synapses: dict = field(default_factory=dict)
    input_ports: dict = field(default_factory=dict)
    taps: dict = field(default_factory=dict)
    latency: dict = field(default_factory=dict)
    shapes: dict = field(default_factory=dict)
    used: bool = False

    def syn_port(self, node: str, syn: int):
        """The input port of synaptic current ``syn`` of population ``node``."""
        proc = self.populations[node]
        if isinstance(proc, rf.PROCESSES):
            return rf.port(proc, syn)
        single = isinstance(proc, (LIF,) + sdnn.PROCESSES)
        return proc.a_in if single else getattr(proc, syn_port_name(syn))


def connect_source(out_port, in_port, chw=None) -> None:
    """Connect a flat (N,) source port to a synapse input; ``chw`` (C, H, W) for a Conv, whose
    input is Lava's (W, H, C)."""
    if chw is not None:
        out_port = out_port.reshape(tuple(chw)).transpose([2, 1, 0])
    out_port.connect(in_port)


def _uniform(a) -> bool:
    a = np.asarray(a)
    return a.size == 0 or bool(np.all(a == a.flat[0]))


def _population(node: str, attrs: dict, precision: str):
    """The Lava process of neuron node ``node``."""
    if attrs["model"] == "sigma_delta":
        return sdnn.population(node, attrs, precision)
    if attrs["model"] == "rf":
        return rf.population(node, attrs, precision)
    n = size(attrs["shape"])
    p = neuron_params(node, attrs, precision)
    if attrs.get("refractory", 0) or attrs.get("spike", "binary") != "binary":
        raise GraphError("the Lava backend supports binary spikes without refractory period",
                         where=node, field="spike/refractory",
                         expected="spike='binary', refractory=0",
                         found=f"spike={attrs.get('spike')!r}, "
                               f"refractory={attrs.get('refractory')}")
    if not 1 <= p.n_syn <= MAX_SYN:
        raise GraphError("too many synaptic currents for the Lava backend", where=node,
                         field="n_syn", expected=f"1..{MAX_SYN}", found=p.n_syn)
    common = dict(shape=(n,), n_syn=p.n_syn, du=p.du, dv=p.dv, bias_mant=p.bias_mant,
                  bias_exp=p.bias_exp, name=node)
    reset = attrs.get("reset", "zero")
    lif = attrs["model"] == "cuba" and p.n_syn == 1 and reset == "zero" and \
        all(map(_uniform, (p.du, p.dv, p.vth)))
    if attrs.get("reset_interval") and not lif:
        raise GraphError("a periodic state reset compiles to Lava's LIFReset: a cuba population "
                         "with one current, uniform decays and threshold and zero reset",
                         where=node, field="reset_interval", expected="no reset_interval",
                         found=attrs["reset_interval"])
    if attrs["model"] == "li":
        return LeakyReadout(**common)
    if lif:
        cast = float if precision == "float" else int
        args = dict(shape=(n,), du=cast(p.du.flat[0]), dv=cast(p.dv.flat[0]),
                    vth=cast(p.vth.flat[0]), bias_mant=p.bias_mant,
                    bias_exp=np.broadcast_to(p.bias_exp, (n,)).copy(), name=node)
        if attrs.get("reset_interval"):        # Lava's own LIFReset (fixed and float)
            return LIFReset(reset_interval=int(attrs["reset_interval"]),
                            reset_offset=int(attrs["reset_offset"]), **args)
        return LIF(**args)
    return MultiSynCuba(vth=p.vth, reset=reset, **common)


def _conv(p: Projection, precision: str):
    """Lava's Conv for a conv projection: torch's (C_out, C_in/g, kh, kw) cross-correlation
    becomes Lava's (C_out, kw, kh, C_in/g) kernel, spatially flipped (Lava convolves), with
    (W, H) pairs. Fixed point: the integer weights directly (Lava's Conv ignores weight_exp
    and num_weight_bits, and wraps its output to 24 bits). Lava computes the convolution in
    torch float32: exact while partial sums stay below 2^24; float precision rounds to float32."""
    w = weight_to_int(p.weight) if precision == "fixed" else p.weight
    c, h, wd = p.conv["in_shape"]
    return Conv(weight=w[:, :, ::-1, ::-1].transpose(0, 3, 2, 1).copy(), input_shape=(wd, h, c),
                padding=p.conv["padding"][::-1], stride=p.conv["stride"][::-1],
                dilation=p.conv["dilation"][::-1], groups=p.conv["groups"],
                num_message_bits=GRADED_BITS if p.graded else 0, name=p.name)


def _synapse(p: Projection, precision: str):
    """The Dense, DelayDense or Conv process of projection ``p``."""
    if p.op == "conv":
        return _conv(p, precision)
    dw = projection_weights(p.weight, precision, where=p.name)
    bits = GRADED_BITS if p.graded else 0
    kw = dict(weights=dw.weights, num_message_bits=bits, name=p.name)
    if precision == "fixed":
        kw.update(weight_exp=dw.weight_exp, num_weight_bits=dw.num_weight_bits)
    if p.delay is None:
        return Dense(**kw)
    return DelayDense(delays=p.delay.astype(int), max_delay=int(p.delay.max()), **kw)


def compile(graph, precision: str = "fixed") -> LavaNetwork:  # noqa: A001 - the public name
    """Build the Lava processes of ``graph`` in ``precision`` ("fixed" | "float").

    Returns:
        a :class:`LavaNetwork` with one open input per graph input and one output per graph
        output.

    Raises:
        ValidationErrors: every structural problem of the graph (snnpipe.pipeline.ir.validate).
        GraphError: what the Lava backend cannot express (refractory periods, graded or multi
            spikes, delays > 62, conv delays, more than MAX_SYN currents).
        QuantizationError: weights that Lava's 8-bit synapses cannot hold exactly.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, found {precision!r}")
    check(graph)
    sdnn.check(graph)
    rf.check(graph)
    net = LavaNetwork(graph=graph, precision=precision)
    for node in topological_order(graph):
        attrs = graph.nodes[node]
        net.shapes[node] = tuple(attrs["shape"])
        if attrs["kind"] == "neuron":
            net.populations[node] = _population(node, attrs, precision)
    net.input_ports = {name: [] for name in graph.graph["inputs"]}
    projections = lower(graph)
    for p in projections:
        if p.dst not in net.populations:
            raise GraphError("projection into a node that is not a neuron", where=p.name,
                             field="kind", expected="neuron", found=graph.nodes[p.dst]["kind"])
        syn_proc = _synapse(p, precision)
        net.synapses[p.name] = syn_proc
        n_syn = int(graph.nodes[p.dst].get("n_syn", 1))
        if not 0 <= p.syn < n_syn:
            raise GraphError("synapse index out of range", where=p.name, field="syn",
                             expected=f"0..{n_syn - 1}", found=p.syn)
        a_out = syn_proc.a_out
        if p.op == "conv":  # Lava's (W, H, C) <-> our flat (C, H, W)
            a_out = a_out.transpose([2, 1, 0]).reshape((size(p.conv["out_shape"]),))
        a_out.connect(net.syn_port(p.dst, p.syn))
        chw = p.conv["in_shape"] if p.op == "conv" else None
        if p.src in net.populations:
            connect_source(net.populations[p.src].s_out, syn_proc.s_in, chw)
        else:
            net.input_ports[p.src].append((syn_proc.s_in, chw))
    for out in graph.graph["outputs"]:
        kind = graph.nodes[out]["kind"]
        if kind == "merge":
            net.taps[out] = output_taps(graph, out)
        else:
            n = size(graph.nodes[out]["shape"])
            net.taps[out] = [Tap(src=out, weight=np.ones(n), delay=0)]
    net.latency = latencies(graph, projections)
    return net
