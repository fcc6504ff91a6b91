"""Run a :class:`snnpipe.processes.compile.LavaNetwork` on Lava's CPU simulator.

Timing: input column t is sent at Lava step t+1 (RingBuffer source); every projection adds one
step plus its delay, so an output at latency L (``Record.latency``) answers input column t at
raw index t+L, where raw index i holds what the network emits at Lava step i+1. ``run`` steps
``T + max latency`` steps by default and returns both the raw outputs and the outputs shifted
back by their latency (``Record.outputs``: index t lines up with input column t). Relative to
a SLAYER-style torch model whose blocks delay by one step (DESIGN.md 5.4), the raw outputs are
already aligned (``t_offset`` 0): each block's delay matches a Lava projection's.

A batch is run in one Lava runtime: the samples follow each other, and before each sample every
state (neuron ``u``, ``v``; synapse buffers ``a_buff``, ``a_buf``) is set back to zero, so each
sample starts from rest exactly as a fresh network would. Outputs and probes are written by
:mod:`snnpipe.processes.recorder` into memory-mapped files (Lava's ``Var.get`` is far too slow).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.io.source import RingBuffer as Source

from snnpipe.pipeline.ir.errors import BackendError, GraphError
from snnpipe.processes.compile import LavaNetwork, compile, connect_source
from snnpipe.processes.lavaguard import run_steps, shutdown
from snnpipe.processes.lowering import Tap
from snnpipe.processes.recorder.process import PortRecorder, VarRecorder, open_record

VARIABLES = ("u", "v", "sigma", "act", "residue", "real", "imag")   # LIF; sigma-delta; RF
TAGS = {"fixed": "fixed_pt", "float": "floating_pt"}


@dataclass
class Record:
    """What a run produced. Arrays keep the input's leading shape (batch or none).

    ``outputs[name]`` (B, N, T): outputs aligned to the input time axis (raw shifted left by the
    latency, zero-padded); ``raw[name]`` (B, N, steps): what the network emits at Lava step i+1;
    ``latency[name]``: steps; ``states["node/u"]`` (B, n_syn, N, steps) and ``states["node/v"]``
    (B, N, steps): states after each step (fixed point: integers, 4096 per float unit; float:
    float units). Spikes are 0/1 counts; ``li`` outputs are ``v`` in the same units.
    """

    outputs: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)
    latency: dict = field(default_factory=dict)
    states: dict = field(default_factory=dict)
    steps: int = 0
    precision: str = "fixed"


def _inputs(net: LavaNetwork, spikes) -> tuple[dict, bool]:
    """Normalise ``spikes`` to {input: (B, C, T)} and whether the input was batched."""
    names = net.graph.graph["inputs"]
    if not isinstance(spikes, dict):
        if len(names) != 1:
            raise GraphError("the graph has several inputs: pass a dict of rasters",
                             field="inputs", expected=names, found="one array")
        spikes = {names[0]: spikes}
    out, batched = {}, None
    for name in names:
        if name not in spikes:
            raise GraphError("no raster given for a graph input", where=name, field="spikes")
        a = np.asarray(spikes[name])
        shape = tuple(net.shapes[name])
        if len(shape) > 1 and a.ndim >= len(shape) + 1 and a.shape[-len(shape) - 1:-1] == shape:
            a = a.reshape(a.shape[:-len(shape) - 1] + (int(np.prod(shape)), a.shape[-1]))
        if a.ndim not in (2, 3):
            raise GraphError("input raster must be (channels, time) or (batch, channels, time)",
                             where=name, field="spikes", found=a.shape)
        batched = a.ndim == 3 if batched is None else batched
        a = a if a.ndim == 3 else a[None]
        n = int(np.prod(net.shapes[name]))
        if a.shape[1] != n:
            raise GraphError("input raster has the wrong number of channels", where=name,
                             field="spikes", expected=n, found=a.shape[1])
        out[name] = a
    shapes = {a.shape[0::2] for a in out.values()}
    if len(shapes) != 1:
        raise GraphError("input rasters differ in batch size or length", field="spikes",
                         found=sorted(shapes))
    return out, bool(batched)


def _pad(a: np.ndarray, steps: int) -> np.ndarray:
    """(B, C, T) -> (B, C, steps): truncated or zero-padded in time."""
    out = np.zeros(a.shape[:2] + (steps,), dtype=a.dtype)
    k = min(steps, a.shape[2])
    out[..., :k] = a[..., :k]
    return out


def _shift(a: np.ndarray, d: int) -> np.ndarray:
    """Delay (…, T) by ``d`` steps (zeros first)."""
    if d == 0:
        return a
    out = np.zeros_like(a)
    out[..., d:] = a[..., :-d]
    return out


def _combine(taps: list[Tap], emitted: dict) -> np.ndarray:
    """Sum of ``weight * delayed source`` over the taps of one output: (B, N, steps)."""
    total = 0
    for t in taps:
        total = total + t.weight[None, :, None] * _shift(emitted[t.src], t.delay)
    return np.asarray(total)


def _reset(net: LavaNetwork) -> None:
    """Set every state of the network back to zero (between the samples of a batch)."""
    for proc in list(net.populations.values()) + list(net.synapses.values()):
        for var in (getattr(proc, n, None) for n in ("u", "v", "a_buff", "a_buf", "sigma",
                                                     "act", "residue", "error", "real",
                                                     "imag")):
            if var is not None:
                var.set(np.zeros(var.shape))


def _recorder(path, shape, buffer: int, var=None):
    """A recorder of ``var`` (else of an input port of ``shape``) and its zeroed file ``path``."""
    open_record(path, shape, buffer)
    if var is None:
        return PortRecorder(shape=shape, buffer=buffer, path=str(path))
    return VarRecorder(var=var, buffer=buffer, path=str(path))


def _execute(net: LavaNetwork, sources: dict, probes, batch: int, steps: int, folder: str,
             progress: bool = False):
    """Attach recorders, run every sample, read the files: (emitted, states), both
    name -> (B, ..., steps)."""
    files, total = {}, batch * steps
    for taps in net.taps.values():
        for t in taps:
            if t.src in net.populations and t.src not in files:
                pop = net.populations[t.src]
                files[t.src] = (os.path.join(folder, f"out{len(files)}.npy"), pop.s_out.shape)
                rec = _recorder(files[t.src][0], pop.s_out.shape, total)
                pop.s_out.connect(rec.a_in)
    for probe in probes:
        node, _, var = str(probe).rpartition("/")
        if node not in net.populations or var not in VARIABLES or \
                not hasattr(net.populations[node], var):
            raise GraphError("probe must name a population and one of its states",
                             field="probes",
                             expected=f"<node>/{'|'.join(VARIABLES)}", found=probe)
        target = getattr(net.populations[node], var)
        files[probe] = (os.path.join(folder, f"probe{len(files)}.npy"), target.shape)
        _recorder(files[probe][0], target.shape, total, var=target)
    # Lava builds the processes connected to the one it runs: start from a used input.
    root = next((src for name, src in sources.items() if net.input_ports[name]),
                next(iter(sources.values())))
    cfg = Loihi2SimCfg(select_tag=TAGS[net.precision])
    chunk = max(100, steps // 20) if progress else steps
    bar = tqdm(total=batch * steps, unit="step", desc="lava", leave=False,
               disable=None if progress else True)          # None: on a terminal only
    try:
        for b in range(batch):
            if b:
                _reset(net)
            for done in range(0, steps, chunk):
                run_steps(root, min(chunk, steps - done), cfg)
                bar.update(min(chunk, steps - done))
    except (BackendError, GraphError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise BackendError(f"Lava run failed: {exc}", where=net.graph.graph.get("name"),
                           field=net.precision) from exc
    finally:
        bar.close()
        shutdown(root)
    emitted, states = {}, {}
    for key, (path, shape) in files.items():
        data = np.array(open_record(path, shape, total, mode="r"))
        data = np.moveaxis(data.reshape(shape + (batch, steps)), -2, 0)
        if net.precision == "fixed":
            data = data.astype(np.int64)
        if key in net.populations:
            emitted[key] = data
        else:
            states[key] = data[:, None] if key.endswith("/u") and data.ndim == 3 else data
    return emitted, states


def run(network: LavaNetwork, spikes, steps: int | None = None, probes=(),
        progress: bool = False) -> Record:
    """Feed ``spikes`` through ``network`` on Lava's CPU simulator and collect the outputs.

    Args:
        network: from :func:`snnpipe.processes.compile.compile`; recompiled when already run.
        spikes: raster (channels, time) or (batch, channels, time) of integer counts (channels
            flattened in C order from the input's shape, or that shape itself), or a dict
            {graph input: raster} for several inputs.
        steps: Lava steps per sample; default T + the largest output latency.
        probes: "node/u" or "node/v" for states to record.
        progress: show a progress bar (stderr) over all samples and steps.

    Raises:
        BackendError: Lava failed (the runtime is stopped and its workers are gone).
        GraphError: rasters or probes that do not match the graph.
    """
    if network.used:
        network = compile(network.graph, network.precision)
    network.used = True
    rasters, batched = _inputs(network, spikes)
    batch, _, t_in = next(iter(rasters.values())).shape
    lat = {o: network.latency.get(o, 0) for o in network.graph.graph["outputs"]}
    steps = int(steps) if steps is not None else t_in + max(lat.values(), default=0)
    dtype = np.int32 if network.precision == "fixed" else np.float64
    padded = {k: _pad(a, steps).astype(dtype) for k, a in rasters.items()}
    sources = {}
    for name, a in padded.items():
        sources[name] = Source(data=np.concatenate(list(a), axis=-1))
        for port, chw in network.input_ports[name]:
            connect_source(sources[name].s_out, port, chw)
    tmp = tempfile.TemporaryDirectory(prefix="snnpipe-lava-")
    try:
        emitted, states = _execute(network, sources, probes, batch, steps, tmp.name, progress)
    finally:
        tmp.cleanup()
    emitted.update(padded)
    rec = Record(latency=lat, steps=steps, precision=network.precision)
    for out, taps in network.taps.items():
        raw = _combine(taps, emitted)
        integral = all(np.all(t.weight == np.round(t.weight)) for t in taps)
        if network.precision == "fixed" and integral:
            raw = np.rint(raw).astype(np.int64)
        aligned = np.zeros(raw.shape[:2] + (t_in,), dtype=raw.dtype)
        k = max(0, min(t_in, steps - lat[out]))
        aligned[..., :k] = raw[..., lat[out]:lat[out] + k]
        rec.raw[out], rec.outputs[out] = raw, aligned
    rec.states = states
    if not batched:
        for d in (rec.raw, rec.outputs, rec.states):
            for k in d:
                d[k] = d[k][0]
    return rec
