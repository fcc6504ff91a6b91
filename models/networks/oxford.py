"""The Oxford spike-to-spike regression network (lava-dl tutorial): CUBA Dense 200-256-200."""
from __future__ import annotations

from snnpipe.models.block import cuba as blk
from snnpipe.models.network import Network

NEURON_PARAMS = dict(threshold=0.1, current_decay=1.0, voltage_decay=0.1, tau_grad=1.0,
                     scale_grad=1.0, requires_grad=True)


def oxford(n_in: int = 200, n_hidden: int = 256, n_out: int = 200, neuron_params=None,
           weight_norm: bool = False, delay: bool = False, precision: str = "loihi") -> Network:
    """Two CUBA Dense blocks ``fc1`` (n_in -> n_hidden) and ``fc2`` (n_hidden -> n_out).

    x: (batch, n_in, T) spikes -> (batch, n_out, T) spikes. Trained with ``SpikeTime``.
    """
    p = dict(NEURON_PARAMS if neuron_params is None else neuron_params)
    return Network([("fc1", blk.Dense(p, n_in, n_hidden, weight_norm=weight_norm, delay=delay,
                                      precision=precision)),
                    ("fc2", blk.Dense(p, n_hidden, n_out, weight_norm=weight_norm, delay=delay,
                                      precision=precision))], name="oxford")
