"""HDF5 network files (DESIGN.md section 4): ``export(graph, path)`` and ``load(path)``.

A file holds, under root attributes ``format = "snnpipe"``, ``format_version``, ``dt`` (seconds)
and ``created_by``:
- ``layer/``: lava-dl netx's layout (pipeline/formats/netx_layout.py) whenever the graph is a sequential
  CUBA Dense/Conv chain, so that ``lava.lib.dl.netx.hdf5.Network(net_config=path)`` loads it;
  parameters are quantised to netx's integers as SLAYER does;
- ``graph/``: the exact Graph (pipeline/formats/hdf5_graph.py) whenever netx cannot express it, or
  cannot express it exactly (parameters that are not whole netx integers). netx ignores it;
  :func:`load` prefers it.

Files without our root attributes (lava-dl's own ``export_hdf5``) load from ``layer/`` with
``dt`` = 1 ms. Every failure to read is a FormatError (or GraphError for a readable but invalid
graph) naming the file, the layer or node, and the field.
"""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import networkx as nx
import numpy as np

from snnpipe.pipeline.formats import hdf5_graph, netx_layout
from snnpipe.pipeline.formats.h5guard import probe
from snnpipe.pipeline.ir.atomic import atomic_path
from snnpipe.pipeline.ir.errors import FormatError, SnnpipeError, ValidationErrors
from snnpipe.pipeline.ir.validate import validate

FORMAT = "snnpipe"
FORMAT_VERSION = 1
DEFAULT_DT = 1e-3
CREATED_BY = "snnpipe 0.1.0"
# Errors h5py and numpy raise on damaged files; load turns them into FormatError.
_READ_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError, IndexError,
                AttributeError, UnicodeDecodeError)


def export(graph: nx.MultiDiGraph, path, *, created_by: str = CREATED_BY) -> None:
    """Write ``graph`` to ``path`` atomically (temp file in the same folder, fsync, rename).

    Raises:
        ValidationErrors: the graph is not valid (nothing is written).
        GraphError: a node id is not a string.
    """
    hdf5_graph.check_ids(graph)
    problems = validate(graph)
    if problems:
        raise ValidationErrors(problems, file=path)
    steps = netx_layout.chain(graph)
    with atomic_path(path, suffix=".h5") as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs.update(format=FORMAT, format_version=np.int64(FORMAT_VERSION),
                           dt=np.float64(graph.graph["dt"]), created_by=created_by,
                           name=str(graph.graph.get("name", "net")))
            if steps is not None:
                f.attrs["node_ids"] = json.dumps(_netx_ids(graph, steps))
                netx_layout.write(f, graph, list(steps))
            if steps is None or not netx_layout.lossless(graph, steps):
                hdf5_graph.write(f, graph)


def _netx_ids(graph, steps) -> dict:
    """Our node ids keyed by the ids netx_layout.read gives them (``input``, ``layer<i>``)."""
    src = graph.graph["inputs"][0]
    ids, i, shape = {"input": src}, 0, graph.nodes[src]["shape"]
    for node, edge, _ in steps:
        if edge["op"] == "dense" and len(shape) == 3:
            i += 1                                   # a flatten layer
        if edge["op"] != "identity":
            i += 1
        ids[f"layer{i}"] = node
        shape = graph.nodes[node]["shape"]
    return ids


def load(path) -> nx.MultiDiGraph:
    """Read a Graph from an HDF5 file of ours or from lava-dl's ``export_hdf5``, and validate it.

    Raises:
        FormatError: missing, unreadable or malformed file; a newer format_version.
        GraphError (or ValidationErrors for several problems): the graph read is invalid.
    """
    path = Path(path)
    if not path.is_file():
        raise FormatError("no such file", file=path)
    if not h5py.is_hdf5(path):
        raise FormatError("not an HDF5 file", file=path, expected="an HDF5 file")
    probe(path, _read_file)            # a file that crashes libhdf5 is refused, not fatal
    try:
        graph = _read_file(path)
    except SnnpipeError:
        raise
    except _READ_ERRORS as e:
        raise FormatError(f"damaged HDF5 file ({type(e).__name__}: {e})", file=path) from e
    problems = validate(graph)
    if len(problems) == 1:
        p = problems[0]
        raise type(p)(p.message, file=path, where=p.where, field=p.field, expected=p.expected,
                      found=p.found)
    if problems:
        raise ValidationErrors(problems, file=path)
    return graph


def _read_file(path: Path) -> nx.MultiDiGraph:
    with h5py.File(path, "r") as f:
        return _read(f, path)


def _read(f: h5py.File, path: Path) -> nx.MultiDiGraph:
    dt = _check_root(f, path)
    if "graph" in f:
        return hdf5_graph.read(f, path, dt)
    if "layer" in f:
        graph = netx_layout.read(f, path, dt)
        if f.attrs.get("format") is None and not netx_layout.refused_by_netx(f):
            graph.graph["netx_file"] = str(Path(path).resolve())   # lava-dl's: netx runs it
        return _relabel(graph, f, path)
    raise FormatError("neither a graph/ nor a netx layer/ group", file=path, where="/",
                      field="layer", expected="layer/0..N-1 or graph/")


def _check_root(f: h5py.File, path: Path) -> float:
    """Check the root attributes; return ``dt`` in seconds."""
    fmt = f.attrs.get("format")
    if fmt is None:
        return DEFAULT_DT                            # a plain netx / lava-dl file
    if isinstance(fmt, bytes):
        fmt = fmt.decode("utf-8", errors="replace")
    if not isinstance(fmt, str) or fmt != FORMAT:
        raise FormatError("unknown file format", file=path, where="/", field="format",
                          expected=FORMAT, found=fmt)
    version = f.attrs.get("format_version")
    if not isinstance(version, (int, np.integer)) or version < 1:
        raise FormatError("bad format version", file=path, where="/", field="format_version",
                          expected="a positive int", found=version)
    if version > FORMAT_VERSION:
        raise FormatError("file written by a newer snnpipe; upgrade snnpipe to read it",
                          file=path, where="/", field="format_version",
                          expected=f"<= {FORMAT_VERSION}", found=int(version))
    dt = f.attrs.get("dt", DEFAULT_DT)
    if not isinstance(dt, (float, int, np.floating, np.integer)) or not np.isfinite(dt) or dt <= 0:
        raise FormatError("bad time step", file=path, where="/", field="dt",
                          expected="a positive number of seconds", found=dt)
    return float(dt)


def _relabel(graph: nx.MultiDiGraph, f: h5py.File, path: Path) -> nx.MultiDiGraph:
    """Restore our node ids and graph name on a graph read from ``layer/``."""
    name = f.attrs.get("name")
    if isinstance(name, str):
        graph.graph["name"] = name
    raw = f.attrs.get("node_ids")
    if raw is None:
        return graph
    try:
        ids = json.loads(raw)
    except (TypeError, ValueError):
        ids = None
    if (not isinstance(ids, dict) or set(ids) != set(graph.nodes)
            or not all(isinstance(v, str) for v in ids.values())
            or len(set(ids.values())) != len(ids)):
        raise FormatError("node ids do not match the layers", file=path, where="/",
                          field="node_ids", expected=sorted(graph.nodes), found=raw)
    out = nx.relabel_nodes(graph, ids, copy=True)
    for field in ("inputs", "outputs"):
        out.graph[field] = [ids[n] for n in graph.graph[field]]
    return out
