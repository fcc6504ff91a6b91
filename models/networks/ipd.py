"""Interaural-phase-difference classifier (the sound-localisation tutorial): a spiking hidden
layer (or none: the membrane-only baseline) and a leaky-integrator readout, classified by the
maximum over time of the readout membrane."""
from __future__ import annotations

from snnpipe.models.block import cuba as blk
from snnpipe.models.network import Network
from snnpipe.models.surrogate import Sigmoid
from snnpipe.models.timeconst import decay


def ipd_net(n_in: int = 200, n_hidden: int = 30, n_classes: int = 12, tau: float = 0.02,
            dt: float = 1e-3, spiking: bool = True, beta: float = 5.0,
            precision: str = "float") -> Network:
    """``hidden`` (LIF without synaptic filter: current decay 1, membrane ``tau``, threshold 1,
    sigmoid surrogate of slope ``beta``) then ``readout`` (li, membrane ``tau``). With
    ``spiking=False`` the readout reads the input directly. x (batch, n_in, T) -> v (batch,
    n_classes, T); classify with :class:`snnpipe.models.losses.MaxCrossEntropy`."""
    vd = float(decay(tau, dt))
    blocks = []
    if spiking:
        p = dict(threshold=1.0, current_decay=1.0, voltage_decay=vd, surrogate=Sigmoid(beta),
                 precision=precision)
        blocks.append(("hidden", blk.Dense(p, n_in, n_hidden)))
    out = dict(current_decay=1.0, voltage_decay=vd, precision=precision)
    blocks.append(("readout", blk.Readout(out, n_hidden if spiking else n_in, n_classes)))
    return Network(blocks, name="ipd", dt=dt)
