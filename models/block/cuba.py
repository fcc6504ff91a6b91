"""CUBA LIF blocks mirroring ``lava.lib.dl.slayer.block.cuba`` (same argument names).

Tensors are (batch, channels, time); Conv blocks take (batch, C, H, W, time). With
``delay_shift=True`` (the default, as SLAYER) a block's output is delayed by one step, which
cancels Lava's one-step Dense latency: block k's output at t is what netx layer k emits at t.
Every block has ``forward(x, record=False)``; with ``record=True`` it returns
``(out, {"spikes": ..., "u": ..., "v": ...})`` (neuron states before the output shift), and
``to_graph(g, src, name, delay=0) -> node`` which adds its population and in-edge to a Graph
(``delay``: the axonal delay of the source, steps, scalar or per source neuron).

Block arguments follow SLAYER: ``weight_scale``, ``weight_norm`` (off by default),
``pre_hook_fx`` (default: the precision's weight quantiser), ``delay`` (trainable axonal
delay per output channel, floored to whole steps 0..62, as SLAYER's), ``delay_shift``,
``dropout`` (a probability for :class:`TimeStepDropout`, or a module; SLAYER's
``neuron_params["dropout"]`` also works), ``precision`` (``loihi`` | ``float`` | ``xylo``).
"""
from __future__ import annotations

import numpy as np
import torch

from snnpipe.models.block.base import (Synapse, axon_delay, conv_to_graph, edge_delay,
                                       input_transform, make_neuron, neuron_attrs, shift,
                                       weight_array)
from snnpipe.models.dropout import TimeStepDropout
from snnpipe.models.ste import quantize_weight_8bit
from snnpipe.pipeline.ir import graph
from snnpipe.pipeline.ir.errors import GraphError


def _pair(x):
    return (x, x) if np.ndim(x) == 0 else tuple(x)


def _dropout(d):
    if d is None or isinstance(d, torch.nn.Module):
        return d
    return TimeStepDropout(float(d))


class SpikingBlock(torch.nn.Module):
    """Common forward: synapse -> neuron -> dropout -> output shift -> axonal delay."""

    def __init__(self, neuron_params, synapse: Synapse, *, delay=False, delay_shift=True,
                 dropout=None, precision="loihi", spiking=True):
        super().__init__()
        self.neuron, nd = make_neuron(neuron_params, precision, spiking)
        self.synapse = synapse
        self.dropout = _dropout(dropout if dropout is not None else nd)
        self.delay_shift = delay_shift
        # axonal delay per output channel, steps (floored, 0..62), trainable as in SLAYER
        self.delay = torch.nn.Parameter(torch.zeros(synapse.weight.shape[0])) if delay else None
        self._last = None                   # last output step, for persistent states
        self.shape = None

    def _neuron(self, z):
        return self.neuron(z, record=True)

    def _output(self, s):
        if self.dropout is not None:
            s = self.dropout(s)
        if self.delay_shift:
            first = 0.0
            if self.neuron.persistent_state and self._last is not None \
                    and self._last.shape == s[..., -1].shape:
                first = self._last
            if self.neuron.persistent_state:
                self._last = s[..., -1].detach()
            s = shift(s, 1, first)
        if self.delay is not None:
            s = axon_delay(s, self.delay)
        return s

    def forward(self, x: torch.Tensor, record: bool = False):
        z = self.synapse(x)
        self.shape = tuple(z.shape[1:-1])
        s, states = self._neuron(z)
        out = self._output(s)
        return (out, {"spikes": s, **states}) if record else out

    def _add_node(self, g, name, shape):
        return graph.add_neuron(g, name, shape, **neuron_attrs(self.neuron, shape))


class Input(torch.nn.Module):
    """Input block: optional scalar ``weight``/``bias`` and neuron, then the output shift.

    Without ``neuron_params`` the spikes pass through (shifted if ``delay_shift``). With a
    neuron, SLAYER quantises the input, weight and bias with its 8-bit quantiser.
    """

    def __init__(self, neuron_params=None, weight=None, bias=None, delay_shift=True,
                 precision="loihi"):
        super().__init__()
        self.neuron = None if neuron_params is None else make_neuron(neuron_params, precision)[0]
        self.weight = None if weight is None else torch.nn.Parameter(torch.tensor([float(weight)]))
        self.bias = None if bias is None else torch.nn.Parameter(torch.tensor([float(bias)]))
        self.delay_shift = delay_shift
        q = self.neuron is not None and self.neuron.precision == "loihi"
        self.pre_hook_fx = quantize_weight_8bit if q else (lambda t: t)
        self.shape = None

    def forward(self, x: torch.Tensor, record: bool = False):
        self.shape = tuple(x.shape[1:-1])
        states = {}
        if self.neuron is not None:
            z = input_transform(x, self.pre_hook_fx, self.weight, self.bias)
            x, states = self.neuron(z, record=True)
            states = {"spikes": x, **states}
        out = shift(x, 1) if self.delay_shift else x
        return (out, states) if record else out

    def to_graph(self, g, src, name, delay=0, shape=None):
        """Add the input node ``name`` (shape ``shape`` or the last forward's); with a neuron,
        an input ``name/in`` feeding the population ``name`` by identity."""
        shape = shape or self.shape
        if shape is None:
            raise GraphError("input shape unknown: run a forward pass or pass shape=", where=name,
                             field="shape", expected="(channels,) or (C, H, W)", found=None)
        shape = tuple(shape)
        if self.neuron is None:
            return graph.add_input(g, name, shape)
        if self.bias is not None:
            raise GraphError("an input bias (a constant added to the synaptic input) has no "
                             "graph equivalent", where=name, field="bias", expected="None",
                             found=float(self.bias.detach()))
        graph.add_input(g, f"{name}/in", shape)
        graph.add_neuron(g, name, shape, **neuron_attrs(self.neuron, shape))
        w = 1.0 if self.weight is None else float(self.pre_hook_fx(self.weight.detach()))
        graph.add_identity(g, f"{name}/in", name, w)
        return name


class Flatten(torch.nn.Module):
    """(batch, C, H, W, T) -> (batch, C*H*W, T), C-order as torch's reshape."""

    def forward(self, x: torch.Tensor, record: bool = False):
        out = x.reshape(x.shape[0], -1, x.shape[-1])
        return (out, {}) if record else out

    def to_graph(self, g, src, name, delay=0):
        """Flattening adds nothing to the graph: a dense edge reads its source in C order."""
        return src


class Dense(SpikingBlock):
    """Dense synapse (``in_neurons`` -> ``out_neurons``) and a CUBA population."""

    def __init__(self, neuron_params, in_neurons, out_neurons, weight_scale=1, weight_norm=False,
                 pre_hook_fx=None, delay=False, delay_shift=True, dropout=None,
                 precision="loihi"):
        precision = neuron_params.get("precision", precision)
        syn = Synapse((out_neurons, in_neurons), weight_scale=weight_scale,
                      weight_norm=weight_norm, pre_hook_fx=pre_hook_fx, precision=precision)
        super().__init__(neuron_params, syn, delay=delay, delay_shift=delay_shift,
                         dropout=dropout, precision=precision)

    def to_graph(self, g, src, name, delay=0):
        w = weight_array(self.synapse)
        self._add_node(g, name, (w.shape[0],))
        graph.add_dense(g, src, name, w, delay=edge_delay(delay, w.shape[0]))
        return name


class Conv(SpikingBlock):
    """2-D convolution synapse and a CUBA population; x (batch, C, H, W, T)."""

    def __init__(self, neuron_params, in_features, out_features, kernel_size, stride=1,
                 padding=0, dilation=1, groups=1, weight_scale=1, weight_norm=False,
                 pre_hook_fx=None, delay=False, delay_shift=True, dropout=None,
                 precision="loihi"):
        precision = neuron_params.get("precision", precision)
        kh, kw = _pair(kernel_size)
        conv = dict(stride=_pair(stride), padding=_pair(padding), dilation=_pair(dilation),
                    groups=int(groups))
        syn = Synapse((out_features, in_features // groups, kh, kw), conv=conv,
                      weight_scale=weight_scale, weight_norm=weight_norm,
                      pre_hook_fx=pre_hook_fx, precision=precision)
        super().__init__(neuron_params, syn, delay=delay, delay_shift=delay_shift,
                         dropout=dropout, precision=precision)

    def to_graph(self, g, src, name, delay=0):
        return conv_to_graph(g, src, name, self.synapse, delay, self._add_node)


class Recurrent(SpikingBlock):
    """Dense input synapse plus a recurrent synapse: ``z[t] = W x[t] + R s[t-1]``.

    Unlike SLAYER the given dict is not modified and ``persistent_state`` keeps its value
    (SLAYER forces it on: a second forward call starts from the previous call's state).
    """

    def __init__(self, neuron_params, in_neurons, out_neurons, weight_scale=1, weight_norm=False,
                 pre_hook_fx=None, delay=False, delay_shift=True, dropout=None,
                 precision="loihi"):
        precision = neuron_params.get("precision", precision)
        kw = dict(weight_scale=weight_scale, weight_norm=weight_norm, pre_hook_fx=pre_hook_fx,
                  precision=precision)
        super().__init__(neuron_params, Synapse((out_neurons, in_neurons), **kw), delay=delay,
                         delay_shift=delay_shift, dropout=dropout, precision=precision)
        self.recurrent_synapse = Synapse((out_neurons, out_neurons), **kw)

    @property
    def input_synapse(self) -> Synapse:
        """SLAYER's name for the feed-forward synapse."""
        return self.synapse

    def _neuron(self, z):
        return self.neuron(z, record=True, w_rec=self.recurrent_synapse.effective_weight())

    def to_graph(self, g, src, name, delay=0):
        w = weight_array(self.synapse)
        self._add_node(g, name, (w.shape[0],))
        graph.add_dense(g, src, name, w, delay=edge_delay(delay, w.shape[0]))
        graph.add_dense(g, name, name, weight_array(self.recurrent_synapse), recurrent=True)
        return name


class Readout(SpikingBlock):
    """Dense synapse into a non-spiking leaky integrator (``li``); output v (batch, out, T).

    ``neuron_params``: current_decay, voltage_decay, bias (and the training flags). No output
    shift by default: the readout's state is the network's output.
    """

    def __init__(self, neuron_params, in_neurons, out_neurons, weight_scale=1, weight_norm=False,
                 pre_hook_fx=None, delay_shift=False, precision="loihi"):
        precision = neuron_params.get("precision", precision)
        syn = Synapse((out_neurons, in_neurons), weight_scale=weight_scale,
                      weight_norm=weight_norm, pre_hook_fx=pre_hook_fx, precision=precision)
        super().__init__(neuron_params, syn, delay_shift=delay_shift, precision=precision,
                         spiking=False)

    def to_graph(self, g, src, name, delay=0):
        w = weight_array(self.synapse)
        self._add_node(g, name, (w.shape[0],))
        graph.add_dense(g, src, name, w, delay=edge_delay(delay, w.shape[0]))
        return name
