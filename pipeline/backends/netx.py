"""lava-dl's netx on Lava fixed point: the implementation that defines lava-dl's HDF5 files.

It runs the netx file a Graph was read from (``graph.graph["netx_file"]``, set by
:func:`snnpipe.pipeline.formats.hdf5.load`), or, for a Graph made here, the netx ``layer/`` file
that :func:`snnpipe.pipeline.formats.hdf5.save` writes for it (what a lava-dl user would load).
A Graph that netx cannot express is refused. Outputs: spikes, or ``v`` of an ``li`` readout
(netx's non-spiking last layer), Lava integers; offset 0 (Lava's raw index; how an input
layer with a neuron is driven: :mod:`snnpipe.processes.netx_run`).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from snnpipe.hwmap.targets.loihi import DECAY_UNIT
from snnpipe.pipeline.backends.base import Backend, Compiled, Run, channels, n_steps
from snnpipe.pipeline.formats import hdf5, netx_layout, netx_reset
from snnpipe.pipeline.ir.errors import BackendError, GraphError
from snnpipe.pipeline.ir.graph import topological_order


def netx_file(graph, folder: str) -> Path:
    """The netx file that defines ``graph``: the one it was read from, else one written into
    ``folder``. BackendError when netx cannot express the graph."""
    source = graph.graph.get("netx_file")
    if source and Path(source).is_file():
        return Path(source)
    if netx_layout.chain(graph) is None:
        raise BackendError("lava-dl netx cannot express this graph (not a sequential CUBA "
                           "SDNN or RF Dense/Conv chain): there is no netx file to run",
                           where=graph.graph.get("name"), field="netx")
    path = Path(folder) / "network.net"
    hdf5.export(graph, path)
    return path


def run(c: Compiled, x, record: bool = False) -> Run:
    """netx on ``x`` (B, C, T): the output (spikes, or ``v`` of an ``li`` readout) and, with
    ``record``, every population's spikes, ``u`` (B, 1, N, T) and ``v``."""
    from snnpipe.processes.netx_run import run as netx_run

    g = c.artifact
    if len(g.graph["inputs"]) != 1 or len(g.graph["outputs"]) != 1:
        raise BackendError("netx runs one input and one output", where=g.graph.get("name"),
                           field="outputs", found=g.graph["outputs"])
    pops = [n for n in topological_order(g) if g.nodes[n]["kind"] == "neuron"]
    reset = _reset(g, x)
    with tempfile.TemporaryDirectory(prefix="snnpipe-netx-") as folder:
        path = netx_file(g, folder)
        _check_runnable(path)
        layers = netx_run(path, channels(g.graph["inputs"], x),
                          g.nodes[g.graph["inputs"][0]]["shape"], steps=n_steps(x), record=record,
                          reset=reset)
    if len(layers) != len(pops):
        raise BackendError("netx made another number of layers than the graph has populations",
                           where=str(path), field="layer", expected=len(pops), found=len(layers))
    recorded = {}
    for node, got in zip(pops, layers):
        if "u" in got:
            got["u"] = got["u"][:, None]
        if g.nodes[node]["model"] == "li":
            got.pop("spikes")
        recorded[node] = got
    out = g.graph["outputs"][0]
    emitted = recorded[out]["v"] if g.nodes[out]["model"] == "li" else recorded[out]["spikes"]
    return Run("netx", recorded if record else {}, {out: emitted})


def _reset(g, x) -> tuple[int, int] | None:
    """netx's ``(reset_interval, reset_offset)`` for the graph's resets, or None. netx runs
    the samples of a batch one after another in one Lava run whose step count goes on, so a
    batch keeps the phase of its resets only when the steps per sample are a multiple of the
    interval: otherwise it is refused."""
    try:
        reset = netx_reset.netx_arguments(g)
    except GraphError as exc:
        raise BackendError(f"netx cannot build these resets: {exc}", where=g.graph.get("name"),
                           field="reset_interval") from exc
    steps, batch = n_steps(x), np.shape(x)[0] if np.ndim(x) == 3 else 1
    if reset is not None and batch > 1 and steps % reset[0]:
        raise BackendError("netx runs a batch as one Lava run: with a reset every "
                           f"{reset[0]} steps, samples of {steps} steps would reset at other "
                           "phases (run one sample at a time)", where=g.graph.get("name"),
                           field="reset_interval", expected=f"steps a multiple of {reset[0]}",
                           found=steps)
    return reset


def _check_runnable(path: Path) -> None:
    """Refuse a file netx 0.6.0 cannot build: a pool, convT, unpool, average or concat layer;
    or one it loads but cannot run: an SDNN or CUBA layer with ``neuron/messageBits`` (netx
    hands its NetDict wrapper on as the next synapse's ``num_message_bits``; Lava fails to
    build it, and its runtime can then hang on shutdown)."""
    import h5py

    with h5py.File(path, "r") as f:
        refused = netx_layout.refused_by_netx(f)
        if refused:
            raise BackendError("lava-dl netx 0.6.0 cannot build this layer type "
                               "(NotImplementedError; torch-loihi, intsim-loihi and lava-fixed "
                               "run it)", file=path, where=refused[0], field="type")
        for key in sorted(f.get("layer", {}), key=lambda k: int(k) if k.isdigit() else -1):
            neuron = f["layer"][key].get("neuron")
            if neuron is None or "messageBits" not in neuron or "type" not in neuron:
                continue
            kind = neuron["type"][()]
            kind = kind.decode() if isinstance(kind, bytes) else str(kind)
            if kind in ("SDNN", "CUBA", "LOIHI"):
                raise BackendError(f"lava-dl netx 0.6.0 cannot run a {kind} layer that states its "
                                   "message bits (a netx defect; intsim-loihi and lava-fixed "
                                   "run it)", file=path, where=f"layer/{key}/neuron",
                                   field="messageBits")


BACKEND = Backend("netx", "graph", 0, run, float(DECAY_UNIT),
                  "lava-dl's netx on Lava fixed point (the reference for lava-dl's files)",
                  batched=False, requires="lava.lib.dl.netx")
