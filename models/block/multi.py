"""A population with several synaptic currents, each fed by its own dense projection.

WaveSense's dilated neuron: the same presynaptic spikes reach a short and a long synaptic
current through two weight matrices (Xylo's Isyn and Isyn2).
"""
from __future__ import annotations

import torch

from snnpipe.models.block.base import Synapse, edge_delay, weight_array
from snnpipe.models.block.cuba import SpikingBlock
from snnpipe.pipeline.ir import graph


class MultiDense(SpikingBlock):
    """``n_syn`` dense synapses (``in_neurons`` -> ``out_neurons``), one per current.

    ``neuron_params`` as for :class:`snnpipe.models.block.cuba.Dense`; its ``current_decay`` should
    give one decay per current, e.g. ``[short, long]``. x: (batch, in, T).
    """

    def __init__(self, neuron_params, in_neurons, out_neurons, n_syn=2, weight_scale=1,
                 weight_norm=False, pre_hook_fx=None, delay_shift=True, dropout=None,
                 precision="loihi"):
        params = dict(neuron_params, n_syn=n_syn)
        precision = params.get("precision", precision)
        kw = dict(weight_scale=weight_scale, weight_norm=weight_norm, pre_hook_fx=pre_hook_fx,
                  precision=precision)
        super().__init__(params, Synapse((out_neurons, in_neurons), **kw),
                         delay_shift=delay_shift, dropout=dropout, precision=precision)
        self.extra = torch.nn.ModuleList(Synapse((out_neurons, in_neurons), **kw)
                                         for _ in range(n_syn - 1))

    @property
    def synapses(self) -> list:
        """The projection of each current, in current order."""
        return [self.synapse, *self.extra]

    def forward(self, x: torch.Tensor, record: bool = False):
        s, states = self.neuron(*(syn(x) for syn in self.synapses), record=True)
        out = self._output(s)
        return (out, {"spikes": s, **states}) if record else out

    def to_graph(self, g, src, name, delay=0):
        ws = [weight_array(s) for s in self.synapses]
        self._add_node(g, name, (ws[0].shape[0],))
        for k, w in enumerate(ws):
            graph.add_dense(g, src, name, w, syn=k, delay=edge_delay(delay, w.shape[0]))
        return name
