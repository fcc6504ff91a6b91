"""NIR interchange (nir 1.0): one import root for the ``nir_*`` modules.

* :func:`read_nir` ``(path, dt=None, producer=None) -> (graph, NirInfo)``: a ``.nir`` file as
  a validated Graph that reproduces the framework that wrote it (:mod:`.nir_read`);
* :func:`import_nir` ``(nir_graph, dt=None, producer=None) -> (graph, NirInfo)``: the same from
  a ``nir.NIRGraph`` in memory (:mod:`.nir_import`); :func:`from_nir` returns the graph only;
* :func:`to_nir` ``(graph) -> nir.NIRGraph`` (:mod:`.nir_export`); ``nir.write`` saves it;
* :data:`PRODUCERS`: each framework's discretisation and parameter conventions, measured by
  running it (:mod:`.nir_conventions`).
"""
from __future__ import annotations

from snnpipe.pipeline.formats.nir_conventions import PRODUCERS, Conventions
from snnpipe.pipeline.formats.nir_export import to_nir
from snnpipe.pipeline.formats.nir_import import NirInfo, import_nir
from snnpipe.pipeline.formats.nir_read import NirTypeWarning, read_nir


def from_nir(nir_graph, dt: float | None = None, producer: str | None = None):
    """Our Graph of a ``nir.NIRGraph`` (:func:`import_nir` without its info)."""
    return import_nir(nir_graph, dt, producer)[0]


__all__ = ["read_nir", "import_nir", "from_nir", "to_nir", "PRODUCERS", "Conventions",
           "NirInfo", "NirTypeWarning"]
