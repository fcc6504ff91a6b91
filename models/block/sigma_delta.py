"""Sigma-delta (SDNN) blocks mirroring ``lava.lib.dl.slayer.block.sigma_delta`` (same argument
names): ``Input`` (a Delta encoder), ``Dense``, ``Conv`` and ``Pool`` (a Sigma-Delta
population, relu by default), ``Flatten``, ``Output`` (a Sigma: the running sum of its dense
input).

Tensors are (batch, channels, time); Conv blocks take (batch, C, H, W, time). Inputs and
outputs are graded messages in float units. The neuron is :class:`~snnpipe.models.block.
sigma_delta_neuron.SigmaDelta` (slayer's ``neuron_params``: threshold, activation, tau_grad,
scale_grad, norm, dropout, requires_grad). Precision ``loihi`` (the default) is slayer's
forward value for value (8-bit weights, ``int(64 threshold)/64``, messages floored to 1/4096,
the Input's 8-bit input, weight and bias) and its gradients; ``float`` the Graph's float
semantics of a ``sigma_delta`` node (no quantisation).

As slayer's SDNN blocks, ``delay_shift`` is off by default (a block's output is not delayed);
with ``delay_shift=True`` Dense and Conv delay their output one step. Unlike slayer, whose
``Input`` ignores ``delay_shift``, ours honours it (default False, where the two agree).

``to_graph(g, src, name, delay=0) -> node`` adds a block's population and in-edge: the Graph
that :func:`snnpipe.load` reads from slayer's ``export_hdf5`` of the same network (the
``input`` node and ``layer<i>`` populations when the blocks are named as
:class:`snnpipe.models.network.Network` names them), but for axonal delays (``delay=True``):
the Graph holds them where slayer's forward applies them, on the synapses out of the delayed
block, while netx reads slayer's export of them onto that block's own input synapses. A bias
set with ``neuron.set_bias`` is kept (slayer's export drops it).

Run on a Graph backend, population k answers at index ``t + L_k`` (L_k projections from the
input: models/from_graph.py) what the block answers at t: without biases exactly the blocks'
output delayed by L_k; with biases, blocks run with ``delay_shift=True`` on an input delayed by
one step (the Input's output delayed one step too) give the Graph's indices exactly.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from snnpipe.models.block.base import (Synapse, axon_delay, conv_to_graph, edge_delay,
                                       input_transform, shift, weight_array)
from snnpipe.models.block.cuba import Flatten
from snnpipe.models.block.sigma_delta_neuron import MeanOnlyBatchNorm, SigmaDelta, quantize_8bit
from snnpipe.pipeline.ir import graph
from snnpipe.pipeline.ir.errors import GraphError

__all__ = ["Input", "Dense", "Conv", "Pool", "Flatten", "Output", "MeanOnlyBatchNorm",
           "SigmaDelta", "quantize_8bit"]


def _no_count_log(count_log: bool) -> None:
    """slayer's ``count_log`` (an event-rate output beside the spikes) is not built here."""
    if count_log:
        raise GraphError("count_log is not supported", field="count_log", expected=False,
                         found=True)


def _pair(x):
    return (x, x) if np.ndim(x) == 0 else tuple(x)


def _precision(neuron_params, precision):
    return (neuron_params or {}).get("precision", precision)


def _relu(neuron: SigmaDelta, name: str) -> str:
    act = getattr(neuron.activation, "__name__", "")
    if act != "relu":
        raise GraphError("a netx SDNN population is a ReLU sigma-delta", where=name,
                         field="activation", expected="relu", found=act or repr(neuron.activation))
    return "relu"


class Input(torch.nn.Module):
    """Delta encoder of the input: ``delta(q(x) * q(weight) + q(bias))`` (``q`` the 8-bit
    quantiser in loihi), as slayer's; ``weight``/``bias`` scalars, trainable, optional.
    Without ``neuron_params`` the input passes through."""

    def __init__(self, neuron_params=None, weight=None, bias=None, delay_shift=False,
                 count_log=False, precision="loihi"):
        super().__init__()
        _no_count_log(count_log)
        self.neuron = None if neuron_params is None else \
            SigmaDelta(neuron_params, _precision(neuron_params, precision))
        self.weight = None if weight is None else torch.nn.Parameter(torch.tensor([float(weight)]))
        self.bias = None if bias is None else torch.nn.Parameter(torch.tensor([float(bias)]))
        self.pre_hook_fx = self.neuron.quantize if self.neuron is not None else (lambda t: t)
        self.delay_shift = delay_shift
        self.shape = None

    def forward(self, x: torch.Tensor, record: bool = False):
        self.shape = tuple(x.shape[1:-1])
        states = {}
        if self.neuron is not None:
            z = input_transform(x, self.pre_hook_fx, self.weight, self.bias)
            x = self.neuron.delta(z)
            states = {"spikes": x, "act": z}
        out = shift(x, 1) if self.delay_shift else x
        return (out, states) if record else out

    def to_graph(self, g, src, name, delay=0, shape=None):
        """With ``src`` None, add the input node ``input`` (shape ``shape`` or the last
        forward's) first; then the Delta population ``name`` fed by identity (weight
        ``q(weight)``, bias ``q(bias)``). Returns the population (the input without a neuron)."""
        shape = tuple(shape or self.shape or ())
        if src is None:
            if not shape:
                raise GraphError("input shape unknown: run a forward pass or pass shape=",
                                 where=name, field="shape", expected="(channels,) or (C, H, W)",
                                 found=None)
            src = graph.add_input(g, "input", shape)
        if self.neuron is None:
            return src
        shape = tuple(g.nodes[src]["shape"])
        with torch.no_grad():
            w = 1.0 if self.weight is None else float(self.pre_hook_fx(self.weight))
            b = np.zeros(()) if self.bias is None else \
                np.asarray(float(self.pre_hook_fx(self.bias)), np.float64)
        graph.add_sigma_delta(g, name, shape, stage="delta", activation="none",
                              threshold=self.neuron.graph_threshold(), bias=b)
        graph.add_identity(g, src, name, w)
        return name


class SigmaDeltaBlock(torch.nn.Module):
    """Common forward of Dense and Conv: synapse -> sigma-delta neuron -> output shift ->
    axonal delay (``delay=True``: a trainable delay per output channel, floored, 0..62)."""

    def __init__(self, neuron_params, synapse: Synapse, *, delay=False, delay_shift=False,
                 precision="loihi"):
        super().__init__()
        self.neuron = SigmaDelta(neuron_params, precision)
        self.synapse = synapse
        self.delay_shift = delay_shift
        self.delay = torch.nn.Parameter(torch.zeros(synapse.weight.shape[0])) if delay else None
        self.shape = None

    def forward(self, x: torch.Tensor, record: bool = False):
        z = self.synapse(x)
        self.shape = tuple(z.shape[1:-1])
        s, states = self.neuron(z, record=True)
        out = shift(s, 1) if self.delay_shift else s
        if self.delay is not None:
            out = axon_delay(out, self.delay)
        return (out, {"spikes": s, **states}) if record else out

    def _add_node(self, g, name, shape):
        return graph.add_sigma_delta(g, name, shape, stage="sigma_delta",
                                     activation=_relu(self.neuron, name),
                                     threshold=self.neuron.graph_threshold(),
                                     bias=self.neuron.graph_bias(shape))


def _synapse(shape, conv, weight_scale, weight_norm, pre_hook_fx, precision):
    """The synapse; in loihi its default pre-hook is slayer's ``neuron.quantize_8bit``."""
    return Synapse(shape, conv=conv, weight_scale=weight_scale, weight_norm=weight_norm,
                   pre_hook_fx=pre_hook_fx, precision=precision)


class Dense(SigmaDeltaBlock):
    """Dense synapse (``in_neurons`` -> ``out_neurons``) and a sigma-delta population."""

    def __init__(self, neuron_params, in_neurons, out_neurons, weight_scale=1, weight_norm=False,
                 pre_hook_fx=None, delay=False, delay_shift=False, count_log=False,
                 precision="loihi"):
        _no_count_log(count_log)
        precision = _precision(neuron_params, precision)
        syn = _synapse((out_neurons, in_neurons), None, weight_scale, weight_norm, pre_hook_fx,
                       precision)
        super().__init__(neuron_params, syn, delay=delay, delay_shift=delay_shift,
                         precision=precision)

    def to_graph(self, g, src, name, delay=0):
        w = weight_array(self.synapse)
        self._add_node(g, name, (w.shape[0],))
        graph.add_dense(g, src, name, w, delay=edge_delay(delay, w.shape[0]))
        return name


class Conv(SigmaDeltaBlock):
    """2-D convolution synapse and a sigma-delta population; x (batch, C, H, W, T)."""

    def __init__(self, neuron_params, in_features, out_features, kernel_size, stride=1,
                 padding=0, dilation=1, groups=1, weight_scale=1, weight_norm=False,
                 pre_hook_fx=None, delay=False, delay_shift=False, count_log=False,
                 precision="loihi"):
        _no_count_log(count_log)
        precision = _precision(neuron_params, precision)
        kh, kw = _pair(kernel_size)
        conv = dict(stride=_pair(stride), padding=_pair(padding), dilation=_pair(dilation),
                    groups=int(groups))
        syn = _synapse((out_features, in_features // groups, kh, kw), conv, weight_scale,
                       weight_norm, pre_hook_fx, precision)
        super().__init__(neuron_params, syn, delay=delay, delay_shift=delay_shift,
                         precision=precision)

    def to_graph(self, g, src, name, delay=0):
        return conv_to_graph(g, src, name, self.synapse, delay, self._add_node)


class PoolSynapse(torch.nn.Module):
    """slayer's ``synapse.Pool``: one (kh, kw) kernel of ``weight_scale`` (not trained) summed
    over each channel's windows. slayer runs it over the channels stacked along H; this is the
    per-channel convolution that equals it where no window crosses a channel (H and W multiples
    of the kernel and, for C > 1, no H padding and ``H_out * stride_h == H``), the only
    geometries accepted."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, weight_scale=1,
                 pre_hook_fx=None, precision="loihi"):
        super().__init__()
        kh, kw = _pair(kernel_size)
        self.conv = dict(stride=_pair(stride) if stride is not None else (kh, kw),
                         padding=_pair(padding), dilation=_pair(dilation))
        self.weight = torch.nn.Parameter(torch.full((1, 1, kh, kw), float(weight_scale)),
                                         requires_grad=False)
        if pre_hook_fx is None and precision == "loihi":
            pre_hook_fx = quantize_8bit
        self.pre_hook_fx = pre_hook_fx

    def effective_weight(self) -> torch.Tensor:
        """The kernel after the pre-hook, (1, 1, kh, kw), float units."""
        return self.weight if self.pre_hook_fx is None else self.pre_hook_fx(self.weight)

    def per_channel(self, channels: int) -> torch.Tensor:
        """The kernel repeated for each channel: a conv weight with ``groups = channels``."""
        return self.effective_weight().repeat(channels, 1, 1, 1)

    def check(self, shape) -> None:
        c, h, w = shape
        (kh, kw), (sh, _), (ph, _) = self.weight.shape[2:], self.conv["stride"], \
            self.conv["padding"]
        out = graph.conv_output_shape(tuple(shape), (c, 1, kh, kw), **self.conv)
        if h % kh or w % kw or (c > 1 and (ph or out[1] * sh != h)):
            raise GraphError("slayer's Pool mixes channels (or pads one side) with this "
                             "geometry: only per-channel pooling is supported", field="kernel_size",
                             expected="H, W multiples of the kernel; no H padding and "
                             "H_out * stride == H for several channels", found=(shape, self.conv))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check(x.shape[1:4])
        c = self.conv
        return F.conv3d(x, self.per_channel(x.shape[1]).unsqueeze(-1), None, (*c["stride"], 1),
                        (*c["padding"], 0), (*c["dilation"], 1), x.shape[1])


class Pool(SigmaDeltaBlock):
    """Sum pooling per channel (slayer's ``Pool``: stride defaults to the kernel) and a
    sigma-delta population; x (batch, C, H, W, T). As slayer, the neuron has no norm."""

    def __init__(self, neuron_params, kernel_size, stride=None, padding=0, dilation=1,
                 weight_scale=1, weight_norm=False, pre_hook_fx=None, delay=False,
                 delay_shift=False, count_log=False, precision="loihi"):
        if count_log or weight_norm or delay:
            raise GraphError("count_log, weight_norm and delay are not supported in Pool (netx "
                             "refuses delays on pool layers)", field="delay", expected=False,
                             found=True)
        precision = _precision(neuron_params, precision)
        syn = PoolSynapse(kernel_size, stride, padding, dilation, weight_scale, pre_hook_fx,
                          precision)
        super().__init__(dict(neuron_params, norm=None), syn, delay=delay,
                         delay_shift=delay_shift, precision=precision)

    def to_graph(self, g, src, name, delay=0):
        if np.ndim(delay) and np.unique(delay).size > 1:
            raise GraphError("per-neuron delays into a pool cannot be expressed",
                             where=name, field="delay", expected="one delay", found="several")
        in_shape = tuple(g.nodes[src]["shape"])
        self.synapse.check(in_shape)
        with torch.no_grad():
            w = self.synapse.per_channel(in_shape[0]).double().cpu().numpy()
        shape = graph.conv_output_shape(in_shape, w.shape, **self.synapse.conv)
        self._add_node(g, name, shape)
        graph.add_conv(g, src, name, w, delay=int(np.max(delay)) if np.ndim(delay) else delay,
                       groups=in_shape[0], **self.synapse.conv)
        return name


class Output(torch.nn.Module):
    """Dense synapse into a Sigma: the output is the running sum of the weighted messages
    (slayer's Output: no activation, norm or delta; its ``neuron_params`` give the precision
    and the quantiser only). Not shifted."""

    def __init__(self, neuron_params, in_neurons, out_neurons, weight_scale=1, weight_norm=False,
                 count_log=False, precision="loihi"):
        super().__init__()
        _no_count_log(count_log)
        precision = _precision(neuron_params, precision)
        self.neuron = SigmaDelta(neuron_params, precision)
        self.synapse = _synapse((out_neurons, in_neurons), None, weight_scale, weight_norm,
                                None, precision)
        self.shape = None

    def forward(self, x: torch.Tensor, record: bool = False):
        z = self.synapse(x)
        self.shape = tuple(z.shape[1:-1])
        out = torch.cumsum(z, dim=-1)
        return (out, {"spikes": out}) if record else out

    def to_graph(self, g, src, name, delay=0):
        w = weight_array(self.synapse)
        graph.add_sigma_delta(g, name, (w.shape[0],), stage="sigma", activation="none",
                              threshold=0.0, bias=0.0)
        graph.add_dense(g, src, name, w, delay=edge_delay(delay, w.shape[0]))
        return name
