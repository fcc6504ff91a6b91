"""Verification: the same inputs through every implementation of a target, compared step by step.

``verify(graph, target, inputs)`` runs, in the integer units of the target:

======== ================================================================================
target   implementations (the first is the reference the others are compared with)
======== ================================================================================
loihi    ``torch-loihi`` (snnpipe.models.from_graph, loihi precision), ``lava-fixed`` (processes),
         ``intsim-loihi`` (snnpipe.hwmap.intsim.loihi on the mapped LoihiConfig)
lava     ``torch-loihi``, ``lava-fixed``
xylo     ``torch-xylo`` (snnpipe.models.from_graph, xylo precision, on the graph of the mapped
         XyloConfig: :func:`snnpipe.hwmap.mappers.xylo_graph.mapped_graph`), ``intsim-xylo``
         (snnpipe.hwmap.intsim.xylo), ``xylosim`` (SynSense's reference, when installed)
======== ================================================================================

Units: loihi ``u``, ``v`` in 1/4096 of the float unit; xylo ``Isyn``/``Isyn2`` (``u``) and
``Vmem`` (``v``) chip integers. Index t is the same step in every implementation (the timing of
:mod:`snnpipe.models.from_graph`). Inputs are padded with zero steps (default: the largest output
latency) so that the response to the last column is compared too.

:func:`snnpipe.pipeline.verify.compare.compare` takes any list of
:class:`snnpipe.pipeline.backends.base.Run` and is the lower-level API.
"""
from __future__ import annotations

import copy
import dataclasses

import numpy as np

from snnpipe.models.from_graph import build
from snnpipe.pipeline import backends
from snnpipe.pipeline.backends.artifacts import compile as compile_for
from snnpipe.pipeline.ir.errors import BackendError, GraphError, SnnpipeError
from snnpipe.pipeline.ir.graph import size
from snnpipe.pipeline.verify.compare import VerifyReport, compare

TARGETS = {t: tuple(b.split("-")[0] for b in chain) for t, chain in backends.CHAINS.items()}
NOTES = {
    "loihi": ["saturation counted on the torch-loihi trajectory (Lava fixed point wraps u and "
              "clips v identically)"],
    "lava": ["saturation counted on the torch-loihi trajectory (Lava fixed point wraps u and "
             "clips v identically)"],
    "xylo": ["torch-xylo runs the graph of the mapped XyloConfig (chip integers), not the float "
             "graph: the mapper's rounding, decay-after-input compensation and multi-spike "
             "neurons are part of what is verified, not of what is compared"],
}


def random_inputs(graph, n: int = 1, seed: int = 0, rate: float = 0.2, steps: int = 50):
    """Bernoulli spike rasters (0/1 int64) for ``--random N``: (n, channels, steps) for a graph
    with one input, else a dict input -> raster. ``rate``: probability of a spike per step."""
    rng = np.random.default_rng(seed)
    out = {name: (rng.random((n, size(graph.nodes[name]["shape"]), steps)) < rate).astype(np.int64)
           for name in graph.graph["inputs"]}
    return out if len(out) > 1 else next(iter(out.values()))


def _prepare(graph, inputs, pad: int):
    """Inputs as (B, N, T + pad) int64 (dict for several inputs); an input's own shape
    (C, H, W) may stand in place of N."""
    def one(a, name):
        a = np.asarray(a)
        shape = tuple(graph.nodes[name]["shape"])
        if len(shape) > 1 and a.shape[-len(shape) - 1:-1] == shape:
            a = a.reshape(a.shape[:-len(shape) - 1] + (size(shape), a.shape[-1]))
        a = a[None] if a.ndim == 2 else a
        if a.ndim != 3:
            raise SnnpipeError("input raster must be (channels, time) or (batch, channels, time)",
                               field="inputs", found=a.shape)
        if not np.array_equal(a, np.round(a)):
            raise SnnpipeError("input raster must hold integer counts", field="inputs")
        return np.concatenate([a, np.zeros(a.shape[:2] + (pad,), a.dtype)], -1).astype(np.int64)

    if isinstance(inputs, dict):
        return {k: one(v, k) for k, v in inputs.items()}
    return one(inputs, graph.graph["inputs"][0])


def verify(graph, target: str = "loihi", inputs=None, *, implementations=None, alter=None,
           pad: int | None = None, n_random: int = 2, seed: int = 0,
           mapping: dict | None = None, reference: str | None = None) -> VerifyReport:
    """Run ``inputs`` through the implementations of ``target`` and compare them.

    Args:
        graph: a float Graph (snnpipe.pipeline.ir.graph).
        target: "loihi" | "lava" | "xylo".
        inputs: integer counts (batch, channels, time) or (channels, time), or a dict per input;
            None: :func:`random_inputs` (``n_random`` samples, ``seed``).
        implementations: subset of ("torch", "lava", "intsim", "xylosim") or of the backend
            names of :data:`snnpipe.pipeline.backends.CHAINS`, default all of the target's;
            its torch backend is always first, the reference. A backend whose package is
            not installed, or that refuses the network (a typed GraphError or BackendError
            naming node and field), is left out with a note (an error when asked for by
            name, or when it is the reference).
        alter: ``callable(config) -> config | None``, applied to a copy of the mapped
            LoihiConfig / XyloConfig before the integer simulators run (a fault injection
            hook: torch and Lava keep the unaltered network).
        pad: zero steps appended to the inputs; default the largest latency of the outputs.
        mapping: keyword arguments of the target's mapper (``map_graph`` /
            ``quantize_and_map``: ``limits``, ``state_headroom`` ...), as the deployment used.
        reference: the backend the others are compared with: ``netx`` (lava-dl's netx on
            Lava fixed point, loihi and lava targets) or one of the target's chain. Default:
            :func:`default_reference`.
    Raises:
        SnnpipeError: unknown target or implementation; the mappers' errors for graphs the
            target cannot hold (ValidationErrors, CapacityError, QuantizationError).
    """
    if target not in backends.CHAINS:
        raise SnnpipeError("unknown target", field="target", expected=sorted(TARGETS), found=target)
    chain = backends.CHAINS[target]
    wanted = set(implementations or TARGETS[target])
    unknown = wanted - set(TARGETS[target]) - set(chain)
    if unknown:
        raise SnnpipeError("implementation not available for the target", where=target,
                           field="implementations", expected=TARGETS[target], found=sorted(unknown))
    names = [chain[0]] + [b for b in chain[1:] if b in wanted or _short(b) in wanted]
    notes = list(NOTES[target])
    ref = _reference(graph, target, reference, notes)
    names = [ref] + [n for n in names if n != ref]
    hw = "xylo" if target == "xylo" else "loihi"
    on_hw = [n for n in names[1:] if backends.BACKENDS[n].target == hw]
    if alter is not None and not on_hw:
        raise SnnpipeError("alter changes the mapped configuration: it needs an integer "
                           "simulator", field="implementations", expected="intsim",
                           found=sorted(wanted))
    if inputs is None:
        inputs = random_inputs(graph, n_random, seed)
    graph_c = compile_for(graph, "graph")
    hw_c = compile_for(graph, hw, **(mapping or {})) \
        if on_hw or backends.BACKENDS[names[0]].target == hw else None
    if pad is None:
        hops = hw_c.report.latency_steps if hw == "xylo" else build(graph, "loihi").latency
        pad = max([0] + [hops.get(o, 0) for o in graph.graph["outputs"]])
    x = _prepare(graph, inputs, int(pad))
    altered = None if hw_c is None else _altered(hw_c, alter)
    runs = []
    for i, name in enumerate(names):
        b = backends.BACKENDS[name]
        if not b.available():
            if implementations is not None and (name in wanted or _short(name) in wanted):
                raise SnnpipeError(f"{name} needs {b.requires}, which is not installed",
                                   field="implementations", found=name)
            notes.append(f"{name} skipped: {b.requires} is not installed")
            continue
        c = graph_c if b.target == "graph" else (hw_c if i == 0 else altered)
        try:
            runs.append(b.run(c, x, record=True))
        except (GraphError, BackendError) as e:       # a typed refusal of the network
            if i == 0 or (implementations is not None and (name in wanted
                                                           or _short(name) in wanted)):
                raise
            notes.append(f"{name} skipped: it cannot run this network: {e}")
    return compare(runs, target, notes)


def default_reference(graph, target: str) -> str:
    """The implementation that defines a network: lava-dl's netx for a file lava-dl wrote (a
    graph read from one, on the loihi and lava targets), else the target's torch model."""
    if target in REFERENCES and graph.graph.get("netx_file"):
        return "netx"
    return backends.CHAINS[target][0]


REFERENCES = {"loihi": ("netx",), "lava": ("netx",), "xylo": ()}


def _reference(graph, target: str, asked: str | None, notes: list) -> str:
    chain = backends.CHAINS[target]
    ref = asked or default_reference(graph, target)
    if ref not in chain and ref not in REFERENCES[target]:
        raise SnnpipeError("reference not available for the target", where=target,
                           field="reference", expected=list(chain) + list(REFERENCES[target]),
                           found=ref)
    b = backends.BACKENDS[ref]
    if not b.available():
        if asked:
            raise SnnpipeError(f"{ref} needs {b.requires}, which is not installed",
                               field="reference", found=ref)
        notes.append(f"{ref} (the file's own implementation) skipped: {b.requires} is not "
                     f"installed; reference {chain[0]}")
        return chain[0]
    if ref == "netx" and not asked:
        notes.append("reference netx: lava-dl's own netx on Lava fixed point runs the file "
                     "(the implementation that defines lava-dl's files)")
    return ref


def _short(name: str) -> str:
    """The short name of a backend in ``implementations``: torch, lava, intsim, xylosim."""
    return name.split("-")[0]


def _altered(c, alter):
    """``c`` with ``alter`` applied to a copy of its configuration (``c`` itself without)."""
    if alter is None:
        return c
    cfg = copy.deepcopy(c.artifact)
    out = alter(cfg)
    return dataclasses.replace(c, artifact=cfg if out is None else out)
