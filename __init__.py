"""snnpipe: from PyTorch-trained spiking neural networks to neuromorphic hardware, verified bit
for bit.

The public API for scripts, one function per step of the pipeline::

    g = snnpipe.load("net.h5")                       # HDF5 or .nir -> the Graph IR
    problems = snnpipe.validate(g, target="loihi")   # every problem, [] when it fits
    chip = snnpipe.compile(g, "loihi")               # a Loihi-style (or Xylo-style) config
    run = snnpipe.simulate(chip, x, "intsim-loihi")  # any backend of snnpipe.backends()
    report = snnpipe.verify(g, "loihi", x)           # torch = Lava = the simulator, step by step
    snnpipe.save(g, "copy.h5")

Inputs ``x`` are integer event counts (batch, channels, time). Errors are
:class:`snnpipe.pipeline.ir.errors.SnnpipeError` and its subclasses, naming the file, node and
field. The repository's folders are the sub-packages: :mod:`snnpipe.models` (torch blocks and
training), :mod:`snnpipe.pipeline` (files, the Graph, backends, verification, the CLI),
:mod:`snnpipe.processes` (Lava) and :mod:`snnpipe.hwmap` (hardware targets and simulators).
Importing this module is cheap: each function imports what it needs when called.
"""
from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("snnpipe")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"


def load(path, dt: float | None = None, producer: str | None = None,
         reset_interval: int | None = None, reset_offset: int = 0):
    """The network in the file at ``path`` (our HDF5, a lava-dl netx HDF5 or a NIR file) as a
    validated Graph (a networkx.MultiDiGraph, DESIGN.md 3). A NIR file states neither its time
    step nor the framework that wrote it: ``dt`` (seconds) and ``producer`` (``snntorch`` |
    ``snntorch-zero`` | ``norse`` | ``sinabs`` | ``rockpool`` | ``exact``; None: detected)
    say them. ``reset_interval`` / ``reset_offset`` (netx files): netx's run-time periodic reset
    of every CUBA layer (Lava's LIFReset). Raises FormatError / GraphError."""
    from snnpipe.pipeline.formats.network_file import ReadOptions
    from snnpipe.pipeline.formats.network_file import load as load_file

    return load_file(path, ReadOptions(dt, producer, reset_interval, reset_offset))


def save(graph, path) -> None:
    """Write ``graph`` to ``path`` atomically: NIR for a ``.nir`` name, else HDF5 (lava-dl netx
    layout, plus a graph group for what netx cannot express). Raises ValidationErrors for an
    invalid graph, GraphError for what NIR cannot express."""
    from snnpipe.pipeline.formats.network_file import save as save_file

    save_file(graph, path)


def validate(graph, target: str | None = None, limits=None) -> list:
    """Every problem of ``graph`` (and of ``target``'s design rules: ``loihi`` | ``xylo``, with
    ``limits``) as a list of SnnpipeError; empty when sound."""
    from snnpipe.pipeline.ir.validate import validate as run_rules

    return run_rules(graph, target, limits)


def compile(graph, target: str, **options):  # noqa: A001 - the pipeline's verb
    """``graph`` compiled for ``target`` (``graph`` | ``loihi`` | ``xylo``): a
    :class:`~snnpipe.pipeline.backends.base.Compiled` that :func:`simulate` runs. ``options``
    are the mapper's keyword arguments (``limits``, ...)."""
    from snnpipe.pipeline.backends.artifacts import compile as compile_for

    return compile_for(graph, target, **options)


def simulate(network, x, backend: str, record: bool = False, **options):
    """Run ``x`` (batch, channels, time) integer counts through ``network`` (a Graph, a
    Compiled, or the path of a network file or deployment folder) on ``backend`` (a name of
    :func:`backends`). Returns a :class:`~snnpipe.pipeline.backends.base.Run`: ``output``
    (batch, out, time), ``t_offset``, with ``record`` every population's states."""
    from pathlib import Path

    from snnpipe.pipeline import backends as registry
    from snnpipe.pipeline.backends.artifacts import compile as compile_for
    from snnpipe.pipeline.backends.artifacts import load as load_compiled
    from snnpipe.pipeline.backends.base import Compiled

    if isinstance(network, (str, Path)):
        network = load_compiled(network)
    elif not isinstance(network, Compiled):
        network = compile_for(network, "graph")
    return registry.run(network, backend, x, record, **options)


def verify(graph, target: str = "loihi", inputs=None, **kwargs):
    """Run ``inputs`` through every implementation of ``target`` (``loihi`` | ``lava`` |
    ``xylo``) and compare them step by step: a
    :class:`~snnpipe.pipeline.verify.compare.VerifyReport` (``ok``, ``text()``, ``first``).
    Keyword arguments as :func:`snnpipe.pipeline.verify.chain.verify`."""
    from snnpipe.pipeline.verify.chain import verify as run_chain

    return run_chain(graph, target, inputs, **kwargs)


def backends() -> list:
    """The names of the backends :func:`simulate` runs."""
    from snnpipe.pipeline.backends import BACKENDS

    return list(BACKENDS)


__all__ = ["load", "save", "validate", "compile", "simulate", "verify", "backends",
           "__version__"]
