"""lava-dl netx's HDF5 layout (DESIGN.md 5.5): write sequential CUBA, SDNN and RF graphs, read
netx files (SDNN neurons: :mod:`snnpipe.pipeline.formats.netx_sdnn`; resonate-and-fire layers
with complex weights: :mod:`snnpipe.pipeline.formats.netx_rf`; which graphs netx can express:
:mod:`snnpipe.pipeline.formats.netx_express`).

Layout: ``layer/<i>/`` for i = 0..N-1, datasets only. ``input`` (``shape``, optional
``neuron/*``, ``weight``, ``bias``), ``flatten`` (``shape`` [C*H*W, 1, 1]), ``dense`` /
``dense_rec`` (``shape`` (n_out,), ``inFeatures``, ``outFeatures``, ``weight`` f32 (out, in),
``weight_rec`` (out, out), optional ``delay``, ``bias``), ``conv`` (``shape`` [C, H, W],
``inChannels``, ``outChannels``, ``groups``, ``kernelSize``, ``stride``, ``padding``,
``dilation`` (2,) in (H, W) order, ``weight`` f32 (out, in/groups, kH, kW)) and CUBA ``neuron/*``
(``type`` = "CUBA", ``iDecay``, ``vDecay``, ``vThMant``, ``refDelay``, ``gradedSpike``).
``pool``, ``convT`` and ``unpool`` (which netx refuses) are read by
:mod:`snnpipe.pipeline.formats.netx_layers`; graphs holding a ``conv_transpose`` edge are written
in our ``graph/`` group only (netx reads no such layer).

Units: ``weight`` and ``bias`` are integers in 1/64 of the float unit, ``iDecay``/``vDecay`` in
1/4096 per step, ``vThMant`` in 1/64. Reading divides exactly; writing quantises as SLAYER
does (snnpipe.hwmap.targets.loihi), so a graph is written losslessly only when ``lossless`` says so.
Graph node ids read from netx files are ``input`` and ``layer<i>`` (i the netx layer index).

An ``input`` layer with ``neuron/*`` (slayer's ``block.cuba.Input``) is an input node, an
identity edge (weight ``weight / 64``, default 1) and a cuba population; we write one for such a
graph, as lava-dl does, but netx cannot compile it: run those files with ``skip_layers=1``.
Files without an ``input`` layer start with a dense layer whose columns give the input size.
netx defects we do not work around here: an all-zero layer crashes it, and an all-non-positive
layer with a -256 weight loses precision (DESIGN.md 5.5).
"""
from __future__ import annotations

import h5py
import networkx as nx
import numpy as np

from snnpipe.hwmap.targets import loihi
from snnpipe.pipeline.formats import netx_layers, netx_rf, netx_sdnn
from snnpipe.pipeline.formats.h5util import fail, group, read_array, read_int, read_str
from snnpipe.pipeline.formats.netx_express import chain, lossless
from snnpipe.pipeline.formats.netx_neurons import geometry as netx_geometry
from snnpipe.pipeline.formats.netx_neurons import layer_shape, population
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir import readout

__all__ = ["chain", "lossless", "read", "refused_by_netx", "write"]

# the layer types we read (pool, convT and unpool, which netx refuses: netx_layers)
KNOWN = ("input", "flatten", "dense", "dense_rec", "conv") + netx_layers.READ + (netx_layers.AVERAGE,)


# ---------------------------------------------------------------------------------- writing

def _type(g: h5py.Group, name: str) -> None:
    g.create_dataset("type", (1,), "S10", [name.encode("ascii")])


def _neuron(g: h5py.Group, d) -> None:
    if d["model"] == "sigma_delta":
        netx_sdnn.write_neuron(g, d)
        return
    g.create_dataset("neuron/type", data="CUBA")
    g.create_dataset("neuron/iDecay", data=np.int64(loihi.decay_to_int(d["current_decay"][0])))
    g.create_dataset("neuron/vDecay", data=np.int64(loihi.decay_to_int(d["voltage_decay"])))
    g.create_dataset("neuron/vThMant", data=np.int64(loihi.threshold_to_int(d["threshold"])))
    g.create_dataset("neuron/refDelay", data=np.int64(d["refractory"] + 1))
    g.create_dataset("neuron/gradedSpike", data=np.bool_(d["spike"] == "graded"))


def _bias(g: h5py.Group, d, n: int | None) -> None:
    """``bias`` (n,) in 1/64 units: per neuron, or per channel (the first of each channel);
    n None: one value (an input layer's, which netx reads with ``int()``)."""
    b = np.asarray(d["bias"])
    b = np.rint((b if n is None else np.broadcast_to(b.reshape(n, -1)[:, 0] if b.ndim else b,
                                                     (n,))) * 64)
    if np.any(b):
        g.create_dataset("bias", data=b.astype(np.float32))


def write(f: h5py.File, graph: nx.MultiDiGraph, steps) -> None:
    """Write the netx ``layer/`` group of a graph for which :func:`chain` gave ``steps``."""
    layers = f.create_group("layer")
    src = graph.graph["inputs"][0]
    shape = graph.nodes[src]["shape"]
    lay = layers.create_group("0")
    _type(lay, "input")
    lay.create_dataset("shape", data=np.array(shape, dtype=np.int64))
    if steps and steps[0][1]["op"] == "identity":
        node, edge, _ = steps.pop(0)
        _neuron(lay, graph.nodes[node])
        if float(edge["weight"]) != 1.0:
            lay.create_dataset("weight", data=np.float32(np.rint(64 * edge["weight"])))
        _bias(lay, graph.nodes[node], shape[0] if np.ndim(graph.nodes[node]["bias"]) else None)
    for node, edge, rec in steps:
        if edge["op"] == "dense" and len(shape) == 3:
            lay = layers.create_group(str(len(layers)))
            _type(lay, "flatten")
            lay.create_dataset("shape", data=np.array([G.size(shape), 1, 1], dtype=np.int64))
        lay = layers.create_group(str(len(layers)))
        d = graph.nodes[node]
        if d["model"] == "rf":
            netx_rf.write_dense(lay, edge, d)
            shape = d["shape"]
            continue
        if edge["op"] == "dense":
            _write_dense(lay, edge, rec, d)
        else:
            _write_conv(lay, edge, d)
        _neuron(lay, d)
        shape = d["shape"]


def _write_dense(lay: h5py.Group, edge, rec, d) -> None:
    w = edge["weight"]
    _type(lay, "dense_rec" if rec is not None else "dense")
    lay.create_dataset("shape", data=np.array(d["shape"], dtype=np.int64))
    lay.create_dataset("inFeatures", data=np.int64(w.shape[1]))
    lay.create_dataset("outFeatures", data=np.int64(w.shape[0]))
    lay.create_dataset("weight", data=loihi.weight_to_int(w).astype(np.float32))
    if rec is not None:
        lay.create_dataset("weight_rec", data=loihi.weight_to_int(rec["weight"]).astype(np.float32))
    _bias(lay, d, w.shape[0])


def _write_conv(lay: h5py.Group, edge, d) -> None:
    w = edge["weight"]
    _type(lay, "conv")
    lay.create_dataset("shape", data=np.array(d["shape"], dtype=np.int64))
    lay.create_dataset("inChannels", data=np.int64(w.shape[1] * edge["groups"]))
    lay.create_dataset("outChannels", data=np.int64(w.shape[0]))
    lay.create_dataset("kernelSize", data=np.array(w.shape[2:], dtype=np.int64))
    for key in ("stride", "padding", "dilation"):
        lay.create_dataset(key, data=np.array(edge[key], dtype=np.int64))
    lay.create_dataset("groups", data=np.int64(edge["groups"]))
    lay.create_dataset("weight", data=loihi.weight_to_int(w).astype(np.float32))
    _bias(lay, d, w.shape[0])


# ---------------------------------------------------------------------------------- reading

def read(f: h5py.File, file, dt: float) -> nx.MultiDiGraph:
    """Build a Graph from the ``layer/`` group of a netx file (ours or lava-dl's ``export_hdf5``).

    Raises FormatError naming the file, ``layer/<i>`` and the dataset for anything netx's
    reader would not accept or that our Graph cannot hold.
    """
    layers = group(f, "layer", file, "/")
    n = len(layers)
    missing = [str(i) for i in range(n) if str(i) not in layers]
    if n == 0 or missing:
        raise fail(file, "layer", missing[0] if missing else "0", "missing layer",
                   f"layer/0..layer/{max(n - 1, 0)}")
    g = G.new_graph(str(getattr(file, "stem", "net")), dt)
    prev = _implicit_input(g, group(layers, "0", file, "layer"), file)
    groups = None
    for i in range(n):
        lay = group(layers, str(i), file, "layer")
        if read_str(lay, "type", file, f"layer/{i}") == netx_layers.AVERAGE and prev is not None \
                and g.nodes[prev]["kind"] != "input":
            groups = netx_layers.average_groups(g, lay, prev, i == n - 1, file, f"layer/{i}")
            continue
        prev = _read_layer(g, lay, i, prev, file)
    if prev is None or g.nodes[prev]["kind"] == "input":
        raise fail(file, "layer", "type", "no neuron layer after the input",
                   "input followed by dense or conv layers")
    _never_spiking_readout(g, prev)
    G.set_outputs(g, [prev])
    if groups is not None:
        readout.set_mean(g, prev, groups)
    return g


def refused_by_netx(f: h5py.File) -> list[str]:
    """The ``layer/<i>`` of a netx file whose type netx 0.6.0 cannot build (pool, convT,
    unpool, ...: NotImplementedError), which we read (netx_layers); [] for a file netx loads."""
    layers = f.get("layer", {})
    out = []
    for key in layers:
        t = layers[key].get("type")
        kind = t[()] if t is not None else b""
        kind = kind[0] if np.ndim(kind) else kind
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        if kind in netx_layers.READ or kind in netx_layers.REFUSED or kind == netx_layers.AVERAGE:
            out.append(f"layer/{key}")
    return out


def _never_spiking_readout(g, node) -> None:
    """A last layer whose threshold ``vThMant << 6`` exceeds the largest voltage never spikes
    (netx's default neuron, ``vThMant = 1 << 17``, is one): it is a readout, an ``li`` node
    whose output is ``v``, with the same decays and bias."""
    d = g.nodes[node]
    vth = loihi.threshold_to_int(d.get("threshold", 0))
    if d.get("model") == "cuba" and np.all(loihi.threshold_value(vth) > loihi.V_MAX) \
            and d.get("spike") == "binary":
        d["model"] = "li"
        del d["threshold"]


def _implicit_input(g, lay: h5py.Group, file):
    """netx infers the input of a file without an ``input`` layer from its first dense layer."""
    if read_str(lay, "type", file, "layer/0") not in ("dense", "dense_rec"):
        return None
    width = netx_rf.input_width(lay, file, "layer/0")
    if width is not None:
        return G.add_input(g, "input", (width,))
    w = read_array(lay, "weight", file, "layer/0", "float")
    if w.ndim != 2 or w.shape[1] == 0:
        raise fail(file, "layer/0", "weight", "bad dense weight", "(n_out, n_in)", w.shape)
    return G.add_input(g, "input", (w.shape[1],))


def _read_layer(g, lay: h5py.Group, i: int, prev, file):
    where = f"layer/{i}"
    kind = read_str(lay, "type", file, where)
    if kind == "input":
        if prev is not None:
            raise fail(file, where, "type", "input layer after the first", "layer/0", where)
        return _read_input(g, lay, i, file, where)
    if prev is None:
        raise fail(file, where, "type", "the first layer must be an input or a dense layer",
                   "input | dense | dense_rec", kind)
    if kind == "flatten":
        size = G.size(g.nodes[prev]["shape"])
        shape = read_array(lay, "shape", file, where, "int")
        if int(np.prod(shape)) != size:
            raise fail(file, where, "shape", "flatten size differs from its input", size,
                       shape.tolist())
        return prev
    if kind in ("dense", "dense_rec"):
        return _read_dense(g, lay, i, prev, file, where, kind == "dense_rec")
    if kind == "conv":
        return _read_conv(g, lay, i, prev, file, where)
    if kind in netx_layers.READ or kind in netx_layers.REFUSED:
        return netx_layers.read(g, lay, kind, i, prev, file, where)
    raise fail(file, where, "type", "unknown layer type", " | ".join(KNOWN), kind)


def _read_input(g, lay, i, file, where):
    shape = layer_shape(lay, file, where)
    G.add_input(g, "input", shape)
    if "neuron" not in lay:
        return "input"
    if netx_rf.is_rf_layer(lay, file, where):
        netx_rf.refuse_layer("input", file, where)
    node = population(g, f"layer{i}", shape, lay, shape[0], None, file, where)
    w = read_array(lay, "weight", file, where, "float", {(), (1,)}) if "weight" in lay else 64
    G.add_identity(g, "input", node, float(np.reshape(w, ())) / 64.0)
    return node


def _read_dense(g, lay, i, prev, file, where, rec: bool):
    if netx_rf.is_rf_layer(lay, file, where):
        shape = layer_shape(lay, file, where, (1,))
        nrn = group(lay, "neuron", file, where) if "neuron" in lay else None
        kind = read_str(nrn, "type", file, where + "/neuron") if nrn is not None else ""
        rf = netx_rf.read_neuron(nrn, G.size(shape), file, where + "/neuron") \
            if netx_rf.is_rf_type(kind) else None
        return netx_rf.read_dense(g, lay, f"layer{i}", prev, shape, rf, file, where, rec)
    n_in = G.size(g.nodes[prev]["shape"])
    w = _rows(read_array(lay, "weight", file, where, "float"), lay, file, where)
    if w.ndim != 2 or w.shape[1] != n_in:
        raise fail(file, where, "weight", "dense weight does not fit its input",
                   f"(n_out, {n_in})", w.shape)
    shape = layer_shape(lay, file, where)
    if G.size(shape) != w.shape[0]:
        raise fail(file, where, "shape", "layer size differs from the weight's rows",
                   w.shape[0], shape)
    n = w.shape[0]
    node = population(g, f"layer{i}", (n,), lay, n, prev, file, where)
    G.add_dense(g, prev, node, w / 64.0, delay=_read_delay(lay, w.shape, file, where))
    if rec:
        wr = _rows(read_array(lay, "weight_rec", file, where, "float", {(n, n), (n,)}), lay,
                   file, where)
        G.add_dense(g, node, node, wr / 64.0, recurrent=True)
    return node


def _rows(w: np.ndarray, lay, file, where) -> np.ndarray:
    """netx reads a 1-d dense weight as ``(prod(shape), -1)``: slayer writes the weight of a
    layer with one output neuron as (n_in,)."""
    if w.ndim != 1:
        return w
    n_out = G.size(layer_shape(lay, file, where))
    if w.size % n_out:
        raise fail(file, where, "weight", "1-d dense weight does not split into the layer's "
                   "neurons", f"a multiple of {n_out} values", w.shape)
    return w.reshape(n_out, -1)


def _read_delay(lay, wshape, file, where):
    if "delay" not in lay:
        return 0
    d = read_array(lay, "delay", file, where, "int", {(), (1,), (wshape[0],), (wshape[1],)})
    if d.size == 1:
        return int(d.reshape(()))
    axis = 1 if d.shape[0] == wshape[0] else 0     # netx: per output neuron first
    return np.repeat(np.expand_dims(d, axis), wshape[axis], axis=axis).astype(np.int64)


def _read_conv(g, lay, i, prev, file, where):
    in_shape = g.nodes[prev]["shape"]
    if len(in_shape) != 3:
        raise fail(file, where, "type", "conv needs a (C, H, W) input", "3-d input", in_shape)
    if netx_rf.is_rf_layer(lay, file, where):
        netx_rf.refuse_layer("conv", file, where)
    w = read_array(lay, "weight", file, where, "float")
    if w.ndim == 5 and w.shape[4] == 1:             # slayer's (out, in, kh, kw, 1)
        w = w[..., 0]
    groups = read_int(lay, "groups", file, where) if "groups" in lay else 1
    if w.ndim != 4 or groups < 1 or w.shape[1] * groups != in_shape[0]:
        raise fail(file, where, "weight", "conv weight does not fit its input",
                   f"(C_out, {in_shape[0]}/groups, kh, kw)", w.shape)
    if "delay" in lay:
        raise fail(file, where, "delay", "conv delays are not supported (netx ignores them)")
    geometry = netx_geometry(lay, file, where)
    shape = layer_shape(lay, file, where, (3,))
    out = G.conv_output_shape(in_shape, w.shape, **geometry)
    if out != shape:
        raise fail(file, where, "shape", "conv output shape differs from the layer's", out, shape)
    node = population(g, f"layer{i}", shape, lay, shape[0], prev, file, where)
    G.add_conv(g, prev, node, w / 64.0, groups=groups, **geometry)
    return node
