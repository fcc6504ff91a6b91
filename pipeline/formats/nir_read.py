"""Reading a ``.nir`` file: ``read_nir(path, dt=None, producer=None) -> (graph, NirInfo)``.

The file is probed in a forked child first (:mod:`.h5guard`: a damaged HDF5 file cannot crash
the caller), its version checked (NIR 1.0 and later), then read with nir's own type inference;
a file that fails it (Rockpool's and snnTorch's exports with a batch dimension in the Input
type, scalar neuron parameters) is read again without it, with a :class:`NirTypeWarning`, and
our importer checks every shape itself. Every failure is a typed error naming the file.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import h5py
import networkx as nx
import nir

from snnpipe.pipeline.formats import h5guard
from snnpipe.pipeline.formats.nir_import import NirInfo, import_nir
from snnpipe.pipeline.ir.errors import FormatError, GraphError, SnnpipeError


class NirTypeWarning(UserWarning):
    """nir's type inference rejected the file; it was read without it."""


def _raw(path) -> None:
    with h5py.File(path, "r") as f:
        f["node"].visititems(lambda name, item: item[()] if isinstance(item, h5py.Dataset)
                             else None)


def version(path) -> tuple[int, ...]:
    """The NIR version a file states, as ints: ``(1, 0, 8)``.

    Raises:
        FormatError: not an HDF5 file, or no ``version`` / ``node`` in it.
    """
    try:
        with h5py.File(path, "r") as f:
            if "node" not in f:
                raise FormatError("not a NIR file: no node group", file=path, field="node")
            if "version" not in f:
                raise FormatError("a NIR file without a version (written before NIR 1.0)",
                                  file=path, field="version", expected="NIR >= 1.0")
            raw = f["version"][()]
    except OSError as e:
        raise FormatError(f"not an HDF5 file ({e})", file=path) from None
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    parts = re.findall(r"\d+", text)
    if not parts:
        raise FormatError("unreadable NIR version", file=path, field="version", found=text)
    return tuple(int(p) for p in parts[:3])


KNOWN = {"Affine", "AvgPool2d", "Conv1d", "Conv2d", "CubaLI", "CubaLIF", "Delay", "Flatten",
         "I", "IF", "Input", "LI", "LIF", "Linear", "NIRGraph", "Output", "Scale", "SumPool2d",
         "Threshold"}


def _check_types(path) -> None:
    """GraphError naming the first node whose type NIR 1.0 does not define."""
    def visit(name, item):
        if isinstance(item, h5py.Group) and "type" in item:
            t = item["type"][()]
            t = t.decode() if isinstance(t, bytes) else str(t)
            if t not in KNOWN:
                node = name.replace("nodes/", "")
                raise GraphError("unsupported NIR node", file=path, where=node, field="type",
                                 expected="a NIR 1.0 node type", found=t)

    with h5py.File(path, "r") as f:
        visit("", f["node"])
        f["node"].visititems(visit)


def _read(path, info_warnings: list) -> nir.NIRGraph:
    _check_types(path)
    try:
        return nir.read(path)
    except Exception as first:                  # noqa: BLE001 - nir raises anything here
        try:
            graph = nir.read(path, type_check=False)
        except Exception as e:                  # noqa: BLE001
            raise _typed(e, path) from None
        text = f"nir's type inference failed ({str(first).splitlines()[0][:160]}): " \
               "read without it, shapes checked by snnpipe"
        warnings.warn(f"{path}: {text}", NirTypeWarning, stacklevel=3)
        info_warnings.append(text)
        return graph


def _typed(e: Exception, path) -> SnnpipeError:
    """A typed error for what nir.read raised on a file."""
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    m = re.match(r"Unknown unit type: b?'?([^']*)'?", text)
    if m:
        return GraphError("unsupported NIR node", file=path, field="type",
                          expected="a NIR 1.0 node type", found=m.group(1))
    missing = re.search(r"missing \d+ required positional argument: '(\w+)'", text)
    if missing:
        return FormatError("a dataset is missing", file=path, field=missing.group(1),
                           expected="every field of the node type")
    if isinstance(e, KeyError):
        return FormatError("a dataset is missing", file=path, field=text.strip("'\""),
                           expected="every field of the node type")
    return FormatError(f"nir cannot read the file: {type(e).__name__}: {text[:200]}", file=path)


def read_nir(path, dt: float | None = None,
             producer: str | None = None) -> tuple[nx.MultiDiGraph, NirInfo]:
    """The validated Graph of the NIR file at ``path`` and what the import used.

    Args:
        path: a ``.nir`` file (NIR >= 1.0, HDF5).
        dt: seconds per step; None takes the file's metadata, else the producer's step (see
            :data:`snnpipe.pipeline.formats.nir_conventions.PRODUCERS`).
        producer: ``snntorch`` | ``snntorch-zero`` | ``norse`` | ``sinabs`` | ``rockpool`` |
            ``exact`` | ``snnpipe``; None detects it from the file (else ``exact``).
    Returns:
        ``(graph, info)``: ``info.producer``, ``info.detected`` and ``info.reason``,
        ``info.dt``, ``info.offsets`` (population -> steps behind the framework's own step),
        ``info.warnings``.
    Raises:
        FormatError: no file, not HDF5, a pre-1.0 file, a missing dataset, an unknown producer,
            a missing dt (``field="dt"``).
        GraphError: an unsupported node or feature, a broken edge name, naming the node and
            field; ValidationErrors: the imported Graph is not valid.
    """
    path = Path(path)
    if not path.is_file():
        raise FormatError("no such file", file=path)
    h5guard.probe(path, _raw)
    v = version(path)
    if v < (1, 0):
        raise FormatError("a NIR file written before NIR 1.0", file=path, field="version",
                          expected=">= 1.0", found=".".join(map(str, v)))
    notes: list = []
    graph = _read(path, notes)
    try:
        g, info = import_nir(graph, dt, producer)
    except SnnpipeError as e:
        if e.file is None:
            e.file = str(path)
            e.args = (e._render(),)
        raise
    info.warnings = notes + info.warnings
    return g, info
