"""The ``graph/`` group of our HDF5 files: any Graph, exactly (netx ignores this group).

Layout:
    graph/                 attrs ``name`` (str), ``inputs``, ``outputs`` (JSON lists of node ids)
    graph/nodes/<i>/       one group per node in insertion order; attrs ``id`` and every scalar
                           node attribute (str, int, float, bool); a dataset per array attribute,
                           stored with its own dtype and shape (float64 parameters are exact);
                           tuples (``shape``) are int64 datasets with attr ``tuple = True``
    graph/edges/<j>/       one group per edge in insertion order; attrs ``src``, ``dst``, ``key``
                           and the scalar edge attributes; datasets as for nodes (``weight``,
                           per-synapse ``delay``, ``stride``, ``padding``, ``dilation``)

Node ids are strings. Reading checks the type of every attribute the Graph IR defines and raises
FormatError naming the file, the node or edge, and the field.
"""
from __future__ import annotations

import json

import h5py
import networkx as nx
import numpy as np

from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import GraphError
from snnpipe.pipeline.formats.h5util import fail, group

RESERVED = ("id", "src", "dst", "key")
# The type each known attribute must have once read: python scalar types, "tuple", or "array".
SCHEMA = {"kind": str, "model": str, "reset": str, "spike": str, "op": str,
          "stage": str, "activation": str, "spike_exp": int, "state_exp": int,
          "message_bits": int, "variant": str, "period": "array", "decay": "array",
          "n_syn": int, "refractory": int, "syn": int, "groups": int, "recurrent": bool,
          "shape": "tuple", "stride": "tuple", "padding": "tuple", "dilation": "tuple",
          "current_decay": "array", "voltage_decay": "array", "threshold": "array",
          "bias": "array", "weight": "array", "delay": (int, "array"), "readout": str,
          "readout_groups": int}


def _check_id(x, what: str) -> str:
    if not isinstance(x, str):
        raise GraphError(f"HDF5 files store string {what} only", where=repr(x), field="id",
                         expected="a str", found=type(x).__name__)
    return x


def check_ids(graph: nx.MultiDiGraph) -> None:
    """Raise GraphError unless every node id is a string (the only ids files store)."""
    for node in graph.nodes:
        _check_id(node, "node ids")


def _put(g: h5py.Group, name: str, value) -> None:
    if isinstance(value, (str, bool, np.bool_)):
        g.attrs[name] = np.bool_(value) if not isinstance(value, str) else value
    elif isinstance(value, (int, np.integer)):
        g.attrs[name] = np.int64(value)
    elif isinstance(value, (float, np.floating)):
        g.attrs[name] = np.float64(value)
    elif isinstance(value, tuple):
        ds = g.create_dataset(name, data=np.array(value, dtype=np.int64))
        ds.attrs["tuple"] = True
    else:
        g.create_dataset(name, data=np.asarray(value))


def write(f: h5py.File, graph: nx.MultiDiGraph) -> None:
    """Write ``graph`` as ``f['graph']`` (string node ids; attributes as described above)."""
    root = f.create_group("graph")
    root.attrs["name"] = str(graph.graph.get("name", "net"))
    for field in ("inputs", "outputs"):
        root.attrs[field] = json.dumps([_check_id(n, "node ids") for n in graph.graph[field]])
    nodes = root.create_group("nodes")
    for i, (node, attrs) in enumerate(graph.nodes(data=True)):
        g = nodes.create_group(str(i))
        g.attrs["id"] = _check_id(node, "node ids")
        for name, value in attrs.items():
            _put(g, name, value)
    edges = root.create_group("edges")
    for j, (src, dst, key, attrs) in enumerate(G.edges(graph)):
        g = edges.create_group(str(j))
        g.attrs["src"], g.attrs["dst"], g.attrs["key"] = src, dst, np.int64(key)
        for name, value in attrs.items():
            _put(g, name, value)


def _scalar(v):
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def _read_attrs(g: h5py.Group, file, where) -> dict:
    """Every attribute and dataset of a node or edge group, typed as the Graph IR holds them."""
    out = {k: _scalar(v) for k, v in g.attrs.items() if k not in RESERVED}
    for name, obj in g.items():
        if not isinstance(obj, h5py.Dataset):
            raise fail(file, where, name, "expected a dataset", "a dataset", "a group")
        a = np.asarray(obj[()])
        flag = obj.attrs.get("tuple", False)
        if np.ndim(flag) != 0:
            raise fail(file, where, name, "attribute 'tuple' is not a flag", "a scalar boolean",
                       f"an array of shape {np.shape(flag)}")
        if flag:
            if a.ndim != 1 or a.dtype.kind not in "iu":
                raise fail(file, where, name, "wrong dtype", "a 1-d int tuple", str(a.dtype))
            out[name] = tuple(int(v) for v in a)
        elif a.dtype.kind not in "fiub":
            raise fail(file, where, name, "wrong dtype", "a numeric array", str(a.dtype))
        else:
            out[name] = a
    for name, value in out.items():
        _check_type(file, where, name, value)
    return out


def _check_type(file, where, name, value) -> None:
    want = SCHEMA.get(name)
    if want is None:
        return
    wants = want if isinstance(want, tuple) else (want,)
    for w in wants:
        if w == "tuple" and isinstance(value, tuple):
            return
        if w == "array" and isinstance(value, np.ndarray):
            return
        bool_as_int = w is int and isinstance(value, bool)
        if isinstance(w, type) and isinstance(value, w) and not bool_as_int:
            return
    names = " or ".join(w if isinstance(w, str) else w.__name__ for w in wants)
    raise fail(file, where, name, "wrong type", names, type(value).__name__)


def _id(g: h5py.Group, name: str, file, where) -> str:
    v = _scalar(g.attrs.get(name))
    if not isinstance(v, str):
        raise fail(file, where, name, "missing or non-string id attribute", "a string", v)
    return v


def _ids(root: h5py.Group, field: str, file) -> list:
    try:
        ids = json.loads(_scalar(root.attrs.get(field, "")))
    except (TypeError, ValueError):
        ids = None
    if not isinstance(ids, list) or not all(isinstance(n, str) for n in ids):
        raise fail(file, "graph", field, "bad node id list", "a JSON list of strings")
    return ids


def read(f: h5py.File, file, dt: float) -> nx.MultiDiGraph:
    """The Graph stored in ``f['graph']``; ``dt`` (seconds) comes from the root attributes."""
    root = group(f, "graph", file, "/")
    g = G.new_graph(str(_scalar(root.attrs.get("name", "net"))), dt)
    nodes = group(root, "nodes", file, "graph")
    for i in range(len(nodes)):
        where = f"graph/nodes/{i}"
        ng = group(nodes, str(i), file, "graph/nodes")
        node = _id(ng, "id", file, where)
        if node in g:
            raise fail(file, where, "id", "duplicate node id", "unique ids", node)
        g.add_node(node, **_read_attrs(ng, file, f"{where} ({node})"))
    edges = group(root, "edges", file, "graph")
    for j in range(len(edges)):
        where = f"graph/edges/{j}"
        eg = group(edges, str(j), file, "graph/edges")
        src, dst = _id(eg, "src", file, where), _id(eg, "dst", file, where)
        for field, end in (("src", src), ("dst", dst)):
            if end not in g:
                raise fail(file, where, field, "edge names an unknown node", "a node id", end)
        key = _scalar(eg.attrs.get("key"))
        if not isinstance(key, int) or isinstance(key, bool):
            raise fail(file, where, "key", "missing or non-integer edge key", "an int", key)
        if g.has_edge(src, dst, key):
            raise fail(file, where, "key", "duplicate edge key", "unique keys", key)
        g.add_edge(src, dst, key=key, **_read_attrs(eg, file, f"{where} ({src} -> {dst})"))
    g.graph["inputs"], g.graph["outputs"] = _ids(root, "inputs", file), _ids(root, "outputs", file)
    return g
