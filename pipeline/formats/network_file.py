"""A network file in any format snnpipe reads: ours (HDF5), lava-dl's netx HDF5, or NIR.

The format is told by the content, not the name: a NIR file is an HDF5 file whose root holds a
``node`` group (nir.write's layout); everything else goes to :mod:`.hdf5`, which reads our
files and lava-dl's. NIR files carry neither a time step nor their producer, so reading one
takes ``dt`` (seconds) and ``producer`` (:data:`snnpipe.pipeline.formats.nir.PRODUCERS`);
both are ignored for HDF5 files, which state their own. Writing goes by the suffix: ``.nir``
writes NIR, anything else our HDF5 (netx's ``layer/`` layout where netx can express the
network, so lava-dl loads it).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import networkx as nx

from snnpipe.pipeline.formats import hdf5
from snnpipe.pipeline.ir.atomic import atomic_path
from snnpipe.pipeline.ir.errors import GraphError

NIR_SUFFIX = ".nir"


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file that does not say: ``dt`` seconds per step and the ``producer``
    whose conventions a NIR file follows (None: the file's metadata, else detected); for a
    netx file, netx's run-time ``reset_interval`` (steps; None: no reset) and ``reset_offset``
    (:func:`snnpipe.pipeline.formats.netx_reset.apply`: every CUBA layer resets)."""

    dt: float | None = None
    producer: str | None = None
    reset_interval: int | None = None
    reset_offset: int = 0


def is_nir(path) -> bool:
    """Whether ``path`` is a NIR file (HDF5 with a root ``node`` group)."""
    path = Path(path)
    if not path.is_file() or not h5py.is_hdf5(path):
        return path.suffix == NIR_SUFFIX and not path.is_file()
    try:
        with h5py.File(path, "r") as f:
            return isinstance(f.get("node"), h5py.Group)
    except (OSError, RuntimeError):
        return path.suffix == NIR_SUFFIX


def read(path, options: ReadOptions = ReadOptions()) -> tuple[nx.MultiDiGraph, object | None]:
    """``(graph, info)`` of the network file at ``path``: ``info`` is the
    :class:`~snnpipe.pipeline.formats.nir.NirInfo` of a NIR import (producer, dt, offsets,
    warnings), None for HDF5.

    Raises:
        FormatError, GraphError, ValidationErrors: as :func:`.hdf5.load` and
        :func:`.nir.read_nir`, naming the file, node and field.
    """
    if is_nir(path):
        from snnpipe.pipeline.formats.nir import read_nir

        if options.reset_interval is not None:
            raise GraphError("a reset interval is netx's run-time argument: for netx files",
                             file=path, field="reset_interval", expected="an HDF5 netx file",
                             found="NIR")
        return read_nir(path, dt=options.dt, producer=options.producer)
    graph = hdf5.load(path)
    if options.reset_interval is not None:
        from snnpipe.pipeline.formats import netx_reset

        netx_reset.apply(graph, options.reset_interval, options.reset_offset)
    return graph, None


def load(path, options: ReadOptions = ReadOptions()) -> nx.MultiDiGraph:
    """The validated Graph of the network file at ``path`` (:func:`read` without its info)."""
    return read(path, options)[0]


def save(graph: nx.MultiDiGraph, path, producer: str | None = None) -> None:
    """Write ``graph`` to ``path`` atomically: NIR for a ``.nir`` name, else our HDF5.

    ``producer`` (NIR only): None for NIR's exact ODEs, else the framework whose importer is
    to read the file (``snntorch | norse | sinabs | rockpool``: :func:`.nir_export.to_nir`).

    Raises:
        ValidationErrors: the graph is not valid; GraphError: NIR (or that framework) cannot
        express a node or edge (naming it and the field), a producer for an HDF5 name.
        Nothing is written then.
    """
    path = Path(path)
    if path.suffix != NIR_SUFFIX:
        if producer is not None:
            raise GraphError("a framework's conventions are for NIR files", file=path,
                             field="producer", expected="a .nir name", found=path.suffix)
        hdf5.export(graph, path)
        return
    import nir

    from snnpipe.pipeline.formats.nir import to_nir

    doc = to_nir(graph, producer)              # every refusal before anything is written
    with atomic_path(path, suffix=NIR_SUFFIX) as tmp:
        nir.write(tmp, doc)
