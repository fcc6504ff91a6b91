"""Running a compiled network on any implementation, with one signature.

``BACKENDS`` holds one :class:`~.base.Backend` per implementation; each runs a
:class:`~.base.Compiled` network (:func:`.artifacts.compile` from a Graph, or
:func:`.artifacts.load` from a file or folder) on an input raster and returns a
:class:`~.base.Run`, aligned by the one rule of :mod:`.base`. Adding a backend is a module with
its runner and one line here. ``CHAINS`` lists, per deployment target, the implementations that
verification compares (the first is the reference).
"""
from __future__ import annotations

from snnpipe.pipeline.backends import (artifacts, intsim_loihi, intsim_xylo, lava, netx, torch_graph,
                                      xylosim)
from snnpipe.pipeline.backends.base import Backend, Compiled, Run
from snnpipe.pipeline.ir.errors import SnnpipeError

BACKENDS: dict[str, Backend] = {b.name: b for b in (
    torch_graph.FLOAT, torch_graph.LOIHI, torch_graph.XYLO,
    lava.FIXED, lava.FLOAT, netx.BACKEND,
    intsim_loihi.BACKEND, intsim_xylo.BACKEND, xylosim.BACKEND,
)}

CHAINS = {"loihi": ("torch-loihi", "lava-fixed", "intsim-loihi"),
          "lava": ("torch-loihi", "lava-fixed"),
          "xylo": ("torch-xylo", "intsim-xylo", "xylosim")}


def get(name: str) -> Backend:
    """The backend ``name``; SnnpipeError naming the known ones otherwise."""
    if name not in BACKENDS:
        raise SnnpipeError("unknown backend", field="backend", expected=sorted(BACKENDS),
                           found=name)
    return BACKENDS[name]


def resolve(name: str, c: Compiled) -> Backend:
    """The backend ``name`` for ``c``; ``intsim`` is the integer simulator of c's target."""
    if name == "intsim":
        if c.target not in ("loihi", "xylo"):
            raise SnnpipeError("intsim runs a hardware configuration: compile for a target "
                               "first, or name the simulator", field="backend",
                               expected=("intsim-loihi", "intsim-xylo"), found=name)
        name = f"intsim-{c.target}"
    return get(name)


def run(c: Compiled, name: str, x, record: bool = False, **options) -> Run:
    """Run input ``x`` (B, C, T) integer counts (or a dict input -> raster) on the backend
    ``name`` (or ``intsim``, :func:`resolve`). A ``graph`` Compiled is compiled for the
    backend's target first (with ``options``: the mapper's keyword arguments); a
    configuration runs on its own target's backends only."""
    backend = resolve(name, c)
    if not backend.available():
        raise SnnpipeError(f"the {backend.name} backend needs {backend.requires}, which is not "
                           "installed", field="backend", found=backend.name)
    if backend.target != c.target:
        if c.graph is None:
            raise SnnpipeError(f"a {c.target} configuration cannot run on {backend.name}: give "
                               "the network file", field="backend",
                               expected=[b for b, v in BACKENDS.items() if v.target == c.target],
                               found=backend.name)
        c = artifacts.compile(c.graph, backend.target, **(options or c.options))
    run = backend.run(c, x, record)
    run.output_unit = backend.unit if backend.unit is not None else \
        getattr(c.report, "scale_out", None)          # Xylo: the mapper's output scale
    return run
