"""A sequential network of named blocks: forward with per-layer records, export to a Graph."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch

from snnpipe.pipeline.ir import graph
from snnpipe.pipeline.ir.errors import GraphError


class Network(torch.nn.Module):
    """Blocks applied in order; ``blocks`` is a list of ``(name, block)`` or of blocks
    (named ``layer0``, ``layer1``, ...).

    ``forward(x, record=False)``: x (batch, channels, time) or (batch, C, H, W, time); with
    ``record=True`` returns ``(out, {name: {"spikes", "u", "v"}})``. Layers are reachable by
    name: ``net.blocks["hidden"]``.
    """

    def __init__(self, blocks, name: str = "net", dt: float = 1e-3):
        super().__init__()
        items = [b if isinstance(b, tuple) else (f"layer{i}", b) for i, b in enumerate(blocks)]
        self.blocks = torch.nn.ModuleDict(OrderedDict(items))
        self.name, self.dt = name, float(dt)

    def forward(self, x: torch.Tensor, record: bool = False):
        records = {}
        for name, block in self.blocks.items():
            if record:
                x, records[name] = block(x, record=True)
            else:
                x = block(x)
        return (x, records) if record else x

    def to_graph(self, input_shape=None):
        """The network as a Graph (DESIGN 3).

        ``input_shape`` (without batch and time) is needed when the first block is not an
        :class:`~snnpipe.models.block.cuba.Input` that has seen data. Returns a MultiDiGraph.
        """
        return sequential_graph(list(self.blocks.items()), input_shape, self.name, self.dt)


def _delay_of(block):
    d = getattr(block, "delay", None)
    if d is None or not isinstance(d, torch.Tensor):
        return 0
    a = d.detach().floor().clamp(0, 62).long().cpu().numpy()
    return int(a[0]) if np.all(a == a[0]) else a


def sequential_graph(blocks, input_shape=None, name: str = "net", dt: float = 1e-3):
    """Build a Graph from ``[(name, block), ...]``; each block's ``to_graph`` adds its part.

    The first block is the input: an ``Input`` block (CUBA or sigma-delta) adds the input node
    itself; otherwise an input node ``input`` of ``input_shape`` is added. The last block's
    node is the output.
    """
    from snnpipe.models.block.cuba import Input
    from snnpipe.models.block.sigma_delta import Input as DeltaInput

    g = graph.new_graph(name, dt)
    blocks = list(blocks)
    if blocks and isinstance(blocks[0][1], (Input, DeltaInput)):
        first, inp = blocks.pop(0)
        src = inp.to_graph(g, None, first, shape=input_shape)
    else:
        if input_shape is None:
            raise GraphError("the input shape is unknown", where=name, field="input_shape",
                             expected="(channels,) or (C, H, W)", found=None)
        src = graph.add_input(g, "input", input_shape)
    delay = 0
    for bname, block in blocks:
        src = block.to_graph(g, src, bname, delay)
        if hasattr(block, "neuron"):          # Flatten passes its source's delay on
            delay = _delay_of(block)
    graph.set_outputs(g, [src])
    return g
