"""Run a netx file on lava-dl's own ``lava.lib.dl.netx.hdf5.Network`` (Lava fixed point): the
implementation that defines lava-dl's files, used as the reference when verifying them.

Driving the network: a file without an input neuron takes the input raster on the network's
``inp`` port (netx's own route). netx cannot take spikes into an ``input`` layer that has a
neuron: it keeps the layer's ``weight``/``bias`` transform on the block (``in_layer.transform``)
without applying it and leaves the block's port unconnected. We drive such a layer as lava-dl's
tests do, through the neuron: the transform's bias is its ``bias_mant``, and the input,
multiplied by the transform's weight, reaches its ``a_in`` (graded) one step after it is sent,
as through a synapse, which is how our Graph delivers it (an ``identity`` edge is a
projection). Without that step netx's whole output is one step earlier, and the input neuron
also sees one step less of its bias before the first input. An SDNN input layer (a Delta, which
has no bias) receives the transform's bias with its input, at every step.

Timing and order: output column t is what the network emits at Lava step t + 1 (the same raw
index as :mod:`snnpipe.processes.run`); neurons are flattened in (C, H, W) order, the graph's
(netx itself is (W, H, C)). Between the samples of a batch every state is set back to zero.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np
from lava.lib.dl.netx import hdf5 as netx_hdf5
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.io.source import RingBuffer as Source

from snnpipe.pipeline.ir.errors import BackendError
from snnpipe.processes.lavaguard import run_steps, shutdown
from snnpipe.processes.recorder.process import PortRecorder, VarRecorder, open_record

STATES = ("u", "v", "a_buff", "a_buf", "s_buf", "sigma", "act", "residue", "error", "real",
          "imag")
# the states recorded of each kind of netx neuron (Lava's Var names)
RECORDED = {"Delta": ("act", "residue"), "SigmaDelta": ("sigma", "act", "residue"),
            "Sigma": ("sigma",), "RF": ("real", "imag"), "RF_IZ": ("real", "imag")}


def _whc(a: np.ndarray, shape: tuple) -> np.ndarray:
    """(N, T) in (C, H, W) order -> netx's (W, H, C, T) (or (N, T) for a 1-d shape)."""
    if len(shape) != 3:
        return a
    return a.reshape(tuple(shape) + a.shape[-1:]).transpose(2, 1, 0, 3)


def _chw(a: np.ndarray) -> np.ndarray:
    """netx's (W, H, C, ..., T) or (N, ..., T) -> (N, ..., T) in (C, H, W) order."""
    if a.ndim >= 4:
        a = np.swapaxes(a, 0, 2)
        return a.reshape((-1,) + a.shape[3:])
    return a


def _reset(net) -> None:
    for layer in net.layers:
        for proc in vars(layer).values():
            if isinstance(proc, AbstractProcess):
                for name in STATES:
                    var = getattr(proc, name, None)
                    if var is not None and hasattr(var, "set"):
                        var.set(np.zeros(var.shape))


def run(path, x, in_shape: tuple, steps: int | None = None, record: bool = False,
        reset: tuple[int, int] | None = None) -> list[dict]:
    """Run netx on ``x`` (B, N_in, T) integer counts, input of ``in_shape`` (C, H, W) or (N,).
    ``reset``: netx's run-time ``(reset_interval, reset_offset)`` (its CUBA layers become
    Lava's LIFReset), None for none.

    Returns one dict per netx layer (block), in order: ``"spikes"`` (B, N, steps: the values
    the layer sends, graded messages of SDNN layers), and its states after each step for the
    last layer, or for every layer with ``record``: ``"u"``, ``"v"`` (LIF; Lava integers,
    4096 per float unit) or :data:`RECORDED` (SDNN: Delta, SigmaDelta, Sigma; RF, RF_IZ:
    ``real``, ``imag``; state units).

    Raises:
        BackendError: netx or Lava failed (the message says which).
    """
    x = np.asarray(x, dtype=np.int64)
    batch, _, t_in = x.shape
    steps = int(steps or t_in)
    try:
        kwargs = {} if reset is None else {"reset_interval": int(reset[0]),
                                           "reset_offset": int(reset[1])}
        net = netx_hdf5.Network(net_config=str(path), **kwargs)
    except Exception as exc:             # netx raises bare errors for what it does not read
        raise BackendError(f"lava-dl netx cannot load the file: {type(exc).__name__}: {exc}",
                           where=str(path), field="netx") from exc
    first = net.layers[0]
    transform = getattr(first, "transform", None)
    offset = 0
    if isinstance(transform, dict):      # an input layer with a neuron (see module docstring)
        port, gain, lag = first.neuron.a_in, int(transform["weight"]), 1
        bias = getattr(first.neuron, "bias_mant", None)
        if bias is not None:
            bias.init = np.full(bias.shape, int(transform["bias"]))
        else:
            offset = int(transform["bias"])
    else:
        port, gain, lag = net.inp, 1, 0
    data = np.full(tuple(port.shape) + (batch * steps,), offset, np.int32)
    for b in range(batch):
        n = min(t_in, steps - lag)
        cols = slice(b * steps + lag, b * steps + lag + n)
        xb = x[b, :, :n] * gain + offset
        xb = xb if len(port.shape) == 1 else _whc(xb, in_shape)
        data[..., cols] = xb.reshape(data[..., cols].shape)
    source = Source(data=data)
    source.s_out.connect(port)
    tmp = tempfile.TemporaryDirectory(prefix="snnpipe-netx-")
    total, files = batch * steps, []
    for k, layer in enumerate(net.layers):
        ports = {"spikes": layer.out}
        if record or k == len(net.layers) - 1:
            names = RECORDED.get(type(layer.neuron).__name__, ("u", "v"))
            ports.update({name: getattr(layer.neuron, name) for name in names})
        files.append({})
        for key, port in ports.items():
            file = os.path.join(tmp.name, f"{k}{key}.npy")
            files[-1][key] = (file, tuple(port.shape))
            open_record(file, port.shape, total)
            if key == "spikes":
                port.connect(PortRecorder(shape=port.shape, buffer=total, path=file).a_in)
            else:
                VarRecorder(var=port, buffer=total, path=file)
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    try:
        for b in range(batch):
            if b:
                _reset(net)
            run_steps(source, steps, cfg)
    except BackendError:
        raise
    except Exception as exc:
        raise BackendError(f"lava-dl netx run failed: {type(exc).__name__}: {exc}",
                           where=str(path), field="netx") from exc
    finally:
        shutdown(source)
    result = []
    try:
        for layer in files:
            result.append({})
            for key, (file, shape) in layer.items():
                a = np.array(open_record(file, shape, total, mode="r"))
                a = a.reshape(shape + (batch, steps))
                result[-1][key] = np.moveaxis(_chw(a), -2, 0).astype(np.int64)
    finally:
        tmp.cleanup()
    return result
