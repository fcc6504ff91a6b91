"""The chirp regression network (Rockpool tutorial): a LIF layer with trainable time constants,
thresholds and biases, read out through an exponential synapse and a linear map."""
from __future__ import annotations

from snnpipe.models.block import cuba as blk
from snnpipe.models.bounds import Bounds
from snnpipe.models.network import Network
from snnpipe.models.timeconst import decay


def chirp_net(n_in: int = 200, n_hidden: int = 50, n_out: int = 1, tau_mem: float = 0.02,
              tau_syn: float = 0.02, tau_out: float = 0.02, threshold: float = 1.0,
              dt: float = 1e-3, precision: str = "float") -> Network:
    """``lif`` (Dense n_in -> n_hidden, every neuron parameter trainable) and ``readout``
    (Dense n_hidden -> n_out into an li whose output is its synaptic current, time constant
    ``tau_out``). Seconds for time constants. x (batch, n_in, T) -> (batch, n_out, T)."""
    lif = dict(threshold=threshold, current_decay=float(decay(tau_syn, dt)),
               voltage_decay=float(decay(tau_mem, dt)), bias=0.0, requires_grad=True,
               train_threshold=True, train_bias=True, precision=precision)
    out = dict(current_decay=float(decay(tau_out, dt)), voltage_decay=1.0, precision=precision)
    return Network([("lif", blk.Dense(lif, n_in, n_hidden, weight_scale=4)),
                    ("readout", blk.Readout(out, n_hidden, n_out))], name="chirp", dt=dt)


def chirp_bounds(dt: float = 1e-3, min_tau: float = 0.002, max_tau: float = 0.5) -> Bounds:
    """Time constants in [min_tau, max_tau] seconds (as decays), thresholds in [0.1, 10]."""
    lo, hi = float(decay(max_tau, dt)), float(decay(min_tau, dt))
    return Bounds({"*current_decay": (lo, hi), "*voltage_decay": (lo, hi),
                   "*threshold": (0.1, 10.0), "*bias": (-1.0, 1.0)})
