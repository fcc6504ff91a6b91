"""WaveSense (Rockpool's WaveSenseNet): WaveBlocks with a dilated connection realised as
``kernel_size`` synaptic currents (time constants ``base_tau_syn * dilation**k``), residual and
skip paths, a hidden layer on the summed skips, a spiking readout and an optional low-pass.

Time constants are in seconds, ``dt`` the step in seconds. Every spiking layer delays its
output by one step (each hop costs one step, as on the hardware). x: (batch, n_channels_in, T).
"""
from __future__ import annotations

import numpy as np
import torch

from snnpipe.models.block import cuba as blk
from snnpipe.models.block.multi import MultiDense
from snnpipe.models.populations.li import Li
from snnpipe.models.timeconst import decay
from snnpipe.pipeline.ir import graph


class LowPass(torch.nn.Module):
    """Exponential synapse on each channel (no weights): an ``li`` readout of its current.

    ``out[t] = out[t-1] * (1 - decay(tau)) + x[t]``; x, out: (batch, channels, T).
    """

    def __init__(self, tau: float, dt: float = 1e-3, precision: str = "float"):
        super().__init__()
        self.neuron = Li(current_decay=float(decay(tau, dt)), voltage_decay=1.0,
                         precision=precision)

    def forward(self, x, record: bool = False):
        out, states = self.neuron(x, record=True)
        return (out, {"spikes": out, **states}) if record else out

    def to_graph(self, g, src, name):
        from snnpipe.models.block.base import neuron_attrs
        graph.add_neuron(g, name, g.nodes[src]["shape"], **neuron_attrs(self.neuron,
                                                                         g.nodes[src]["shape"]))
        graph.add_identity(g, src, name, 1.0)
        return name


class WaveBlock(torch.nn.Module):
    """Dilated layer (``kernel_size`` currents) -> residual layer (+ block input) and skip layer.

    ``forward(x)`` returns ``(residual, skip)``, both (batch, channels, T) spike counts.
    """

    def __init__(self, n_channels_res: int, n_channels_skip: int, dilation: int,
                 kernel_size: int, neuron: dict, base_tau_syn: float, dt: float):
        super().__init__()
        taus = [base_tau_syn * dilation ** k for k in range(kernel_size)]
        p = dict(neuron, current_decay=[float(decay(t, dt)) for t in taus])
        self.dilate = MultiDense(p, n_channels_res, n_channels_res, n_syn=kernel_size)
        p = dict(neuron, current_decay=float(decay(base_tau_syn, dt)))
        self.res = blk.Dense(p, n_channels_res, n_channels_res)
        self.skip = blk.Dense(p, n_channels_res, n_channels_skip)

    def forward(self, x, record: bool = False):
        rec = {}
        d, rec["dilate"] = self.dilate(x, record=True)
        r, rec["res"] = self.res(d, record=True)
        s, rec["skip"] = self.skip(d, record=True)
        out = (r + x, s)
        return (*out, rec) if record else out


class WaveSenseNet(torch.nn.Module):
    """WaveSense with Rockpool's constructor arguments.

    Args:
        dilations: one WaveBlock per entry.
        n_classes, n_channels_in, n_channels_res, n_channels_skip, n_hidden: sizes.
        kernel_size: synaptic currents of the dilated neurons (2 on Xylo).
        bias, threshold: of every neuron (float units).
        smooth_output: low-pass the readout spikes with ``tau_lp`` (output is then a trace).
        tau_mem, base_tau_syn, tau_lp, dt: seconds.
        reset, spike, precision, surrogate: neuron options (defaults as Rockpool's LIF:
            subtractive reset, multi-spike, float arithmetic).
    """

    def __init__(self, dilations=(2, 32), n_classes: int = 2, n_channels_in: int = 16,
                 n_channels_res: int = 16, n_channels_skip: int = 16, n_hidden: int = 32,
                 kernel_size: int = 2, bias: float = 0.0, smooth_output: bool = True,
                 tau_mem: float = 0.002, base_tau_syn: float = 0.002, tau_lp: float = 0.01,
                 threshold: float = 1.0, dt: float = 1e-3, reset: str = "subtract",
                 spike: str = "multi", precision: str = "float", surrogate=None):
        super().__init__()
        self.dt, self.smooth_output = float(dt), smooth_output
        neuron = dict(threshold=threshold, voltage_decay=float(decay(tau_mem, dt)), bias=bias,
                      reset=reset, spike=spike, precision=precision)
        if surrogate is not None:
            neuron["surrogate"] = surrogate
        p = dict(neuron, current_decay=float(decay(base_tau_syn, dt)))
        self.spk_in = blk.Dense(p, n_channels_in, n_channels_res)
        self.wave_blocks = torch.nn.ModuleList(
            WaveBlock(n_channels_res, n_channels_skip, d, kernel_size, neuron, base_tau_syn, dt)
            for d in dilations)
        self.hidden = blk.Dense(p, n_channels_skip, n_hidden)
        self.readout = blk.Dense(p, n_hidden, n_classes)
        self.lowpass = LowPass(tau_lp, dt, precision) if smooth_output else None

    def forward(self, x: torch.Tensor, record: bool = False):
        """x (batch, n_channels_in, T) -> (batch, n_classes, T); with ``record`` also
        ``{layer name: states}`` using the graph's node names."""
        rec = {}
        out, rec["spk_in"] = self.spk_in(x, record=True)
        skip = 0
        for i, block in enumerate(self.wave_blocks):
            out, s, r = block(out, record=True)
            rec.update({f"wave{i}/{k}": v for k, v in r.items()})
            skip = skip + s
        out, rec["hidden"] = self.hidden(skip, record=True)
        out, rec["readout"] = self.readout(out, record=True)
        if self.lowpass is not None:
            out, rec["lowpass"] = self.lowpass(out, record=True)
        return (out, rec) if record else out

    def to_graph(self, name: str = "wavesense"):
        """The branching graph: merges for each residual sum and for the skip sum."""
        g = graph.new_graph(name, self.dt)
        n_in = self.spk_in.synapse.weight.shape[1]
        src = self.spk_in.to_graph(g, graph.add_input(g, "input", (n_in,)), "spk_in")
        skips = []
        for i, block in enumerate(self.wave_blocks):
            d = block.dilate.to_graph(g, src, f"wave{i}/dilate")
            res = block.res.to_graph(g, d, f"wave{i}/res")
            skips.append(block.skip.to_graph(g, d, f"wave{i}/skip"))
            if i < len(self.wave_blocks) - 1:       # the last residual sum feeds nothing
                merge = graph.add_merge(g, f"wave{i}/sum", g.nodes[res]["shape"])
                graph.add_identity(g, res, merge)
                graph.add_identity(g, src, merge)
                src = merge
        merge = graph.add_merge(g, "skip_sum", g.nodes[skips[0]]["shape"])
        for s in skips:
            graph.add_identity(g, s, merge)
        out = self.readout.to_graph(g, self.hidden.to_graph(g, merge, "hidden"), "readout")
        if self.lowpass is not None:
            out = self.lowpass.to_graph(g, out, "lowpass")
        graph.set_outputs(g, [out])
        return g


def n_params(net: torch.nn.Module) -> int:
    """Number of trainable values."""
    return int(sum(np.prod(p.shape) for p in net.parameters() if p.requires_grad))
