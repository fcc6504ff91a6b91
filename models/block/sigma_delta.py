"""Sigma-delta (SDNN) blocks mirroring ``lava.lib.dl.slayer.block.sigma_delta`` (same argument
names): ``Input`` (a Delta encoder), ``Dense`` and ``Conv`` (a Sigma-Delta population, relu by
default), ``Flatten``, ``Output`` (a Sigma: the running sum of its dense input).

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
:class:`snnpipe.models.network.Network` names them). Run on a Graph backend, population k
answers at index ``t + L_k`` (L_k projections from the input: models/from_graph.py) what the
block answers at t: without biases exactly the blocks' output delayed by L_k; with biases,
blocks run with ``delay_shift=True`` on an input delayed by one step (the Input's output
delayed one step too) give the Graph's indices exactly.
"""
from __future__ import annotations

import numpy as np
import torch

from snnpipe.models.block.base import Synapse, axon_delay, shift, weight_array
from snnpipe.models.block.cuba import Flatten
from snnpipe.models.block.sigma_delta_neuron import MeanOnlyBatchNorm, SigmaDelta, quantize_8bit
from snnpipe.pipeline.ir import graph
from snnpipe.pipeline.ir.errors import GraphError

__all__ = ["Input", "Dense", "Conv", "Flatten", "Output", "MeanOnlyBatchNorm", "SigmaDelta",
           "quantize_8bit"]


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
        if count_log:
            raise GraphError("count_log is not supported", field="count_log", expected=False,
                             found=True)
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
            z = self.pre_hook_fx(x)
            if self.weight is not None:
                z = z * self.pre_hook_fx(self.weight)
            if self.bias is not None:
                z = z + self.pre_hook_fx(self.bias)
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
        if count_log:
            raise GraphError("count_log is not supported", field="count_log", expected=False,
                             found=True)
        precision = _precision(neuron_params, precision)
        syn = _synapse((out_neurons, in_neurons), None, weight_scale, weight_norm, pre_hook_fx,
                       precision)
        super().__init__(neuron_params, syn, delay=delay, delay_shift=delay_shift,
                         precision=precision)

    def to_graph(self, g, src, name, delay=0):
        w = weight_array(self.synapse)
        self._add_node(g, name, (w.shape[0],))
        d = np.asarray(delay, dtype=np.int64)
        d = d if d.ndim == 0 else np.broadcast_to(d[None, :], (w.shape[0], d.size)).copy()
        graph.add_dense(g, src, name, w, delay=d)
        return name


class Conv(SigmaDeltaBlock):
    """2-D convolution synapse and a sigma-delta population; x (batch, C, H, W, T)."""

    def __init__(self, neuron_params, in_features, out_features, kernel_size, stride=1,
                 padding=0, dilation=1, groups=1, weight_scale=1, weight_norm=False,
                 pre_hook_fx=None, delay=False, delay_shift=False, count_log=False,
                 precision="loihi"):
        if count_log:
            raise GraphError("count_log is not supported", field="count_log", expected=False,
                             found=True)
        precision = _precision(neuron_params, precision)
        kh, kw = _pair(kernel_size)
        conv = dict(stride=_pair(stride), padding=_pair(padding), dilation=_pair(dilation),
                    groups=int(groups))
        syn = _synapse((out_features, in_features // groups, kh, kw), conv, weight_scale,
                       weight_norm, pre_hook_fx, precision)
        super().__init__(neuron_params, syn, delay=delay, delay_shift=delay_shift,
                         precision=precision)

    def to_graph(self, g, src, name, delay=0):
        if np.ndim(delay) and np.unique(delay).size > 1:
            raise GraphError("per-neuron delays into a convolution cannot be expressed",
                             where=name, field="delay", expected="one delay", found="several")
        c, w = self.synapse.conv, weight_array(self.synapse)
        shape = graph.conv_output_shape(g.nodes[src]["shape"], w.shape, c["stride"],
                                        c["padding"], c["dilation"])
        self._add_node(g, name, shape)
        graph.add_conv(g, src, name, w, delay=int(np.max(delay)) if np.ndim(delay) else delay,
                       **c)
        return name


class Output(torch.nn.Module):
    """Dense synapse into a Sigma: the output is the running sum of the weighted messages
    (slayer's Output: no activation, norm or delta; its ``neuron_params`` give the precision
    and the quantiser only). Not shifted."""

    def __init__(self, neuron_params, in_neurons, out_neurons, weight_scale=1, weight_norm=False,
                 count_log=False, precision="loihi"):
        super().__init__()
        if count_log:
            raise GraphError("count_log is not supported", field="count_log", expected=False,
                             found=True)
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
        d = np.asarray(delay, dtype=np.int64)
        d = d if d.ndim == 0 else np.broadcast_to(d[None, :], (w.shape[0], d.size)).copy()
        graph.add_dense(g, src, name, w, delay=d)
        return name
