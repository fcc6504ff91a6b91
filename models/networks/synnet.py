"""SynNet (Rockpool): feed-forward SNN whose hidden layers carry a geometric series of synaptic
time constants, one per neuron (``tau_syn_base * 2**k``, k cycling over the neurons)."""
from __future__ import annotations

import numpy as np
import torch

from snnpipe.models.block import cuba as blk
from snnpipe.models.network import Network
from snnpipe.models.timeconst import dash_decay, decay
from snnpipe.pipeline.ir.errors import SnnpipeError


def layer_taus(n_neurons: int, n_taus: int, tau_syn_base: float) -> np.ndarray:
    """Synaptic time constants (seconds) of a hidden layer: neuron i gets
    ``tau_syn_base * 2**(i % n_taus)``; shape (n_neurons,)."""
    return tau_syn_base * 2.0 ** (np.arange(n_neurons) % n_taus)


class SynNet(Network):
    """Rockpool's SynNet with our blocks.

    Args:
        n_channels, n_classes: input and output sizes.
        size_hidden_layers, time_constants_per_layer: one entry per hidden layer.
        tau_syn_base, tau_mem, tau_syn_out, dt: seconds.
        quantize_time_constants: decays ``2^-round(log2(tau/dt))`` (Xylo's bit shifts) instead
            of ``1 - exp(-dt/tau)``.
        threshold, threshold_out: of hidden and output neurons.
        train_time_constants, train_threshold: make decays / thresholds trainable.
        p_dropout: per-time-step, per-neuron dropout after each hidden layer (training only).
        output: ``"spike"`` (output spikes) or ``"vmem"`` (the output layer's membrane).
    Hidden layers are named ``"0"``, ``"1"``, ... and the output layer ``"out"``
    (``lif_names``). x: (batch, n_channels, T) -> (batch, n_classes, T).
    """

    def __init__(self, n_channels: int = 16, n_classes: int = 1,
                 size_hidden_layers=(60,), time_constants_per_layer=(10,),
                 tau_syn_base: float = 0.002, tau_mem: float = 0.002, tau_syn_out: float = 0.002,
                 quantize_time_constants: bool = True, threshold: float = 1.0,
                 threshold_out: float | None = None, train_time_constants: bool = False,
                 train_threshold: bool = False, p_dropout: float = 0.0, output: str = "spike",
                 dt: float = 1e-3, reset: str = "subtract", spike: str = "multi",
                 precision: str = "float"):
        if len(size_hidden_layers) != len(time_constants_per_layer):
            raise SnnpipeError("one number of time constants per hidden layer",
                               field="time_constants_per_layer",
                               expected=len(size_hidden_layers), found=len(time_constants_per_layer))
        to_decay = dash_decay if quantize_time_constants else decay
        common = dict(voltage_decay=float(to_decay(tau_mem, dt)), reset=reset, spike=spike,
                      precision=precision, requires_grad=train_time_constants,
                      train_threshold=train_threshold)
        blocks, n_in = [], n_channels
        for i, (size, n_tau) in enumerate(zip(size_hidden_layers, time_constants_per_layer)):
            cd = to_decay(layer_taus(size, n_tau, tau_syn_base), dt).reshape(1, size)
            p = dict(common, threshold=threshold, current_decay=cd.astype(np.float32))
            blocks.append((str(i), blk.Dense(p, n_in, size, dropout=p_dropout or None)))
            n_in = size
        p = dict(common, threshold=threshold if threshold_out is None else threshold_out,
                 current_decay=float(to_decay(tau_syn_out, dt)))
        blocks.append(("out", blk.Dense(p, n_in, n_classes)))
        super().__init__(blocks, name="synnet", dt=dt)
        self.output = output

    @property
    def lif_names(self) -> list:
        """Names of the neuron layers in order; the last is the readout."""
        return list(self.blocks)

    def forward(self, x: torch.Tensor, record: bool = False):
        out, rec = super().forward(x, record=True)
        if self.output == "vmem":
            out = rec["out"]["v"]
        return (out, rec) if record else out
