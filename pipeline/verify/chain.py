"""Verification: the same inputs through every implementation of a target, compared step by step.

``verify(graph, target, inputs)`` runs, in the integer units of the target:

======== ================================================================================
target   implementations (the first is the reference the others are compared with)
======== ================================================================================
loihi    ``torch-loihi`` (snnpipe.models.from_graph, loihi precision), ``lava-fixed`` (processes),
         ``intsim-loihi`` (snnpipe.hwmap.intsim.loihi on the mapped LoihiConfig)
lava     ``torch-loihi``, ``lava-fixed``
xylo     ``torch-xylo`` (snnpipe.models.from_graph, xylo precision, on the graph of the mapped
         XyloConfig: :func:`snnpipe.pipeline.verify.xylo.mapped_graph`), ``intsim-xylo``
         (snnpipe.hwmap.intsim.xylo), ``xylosim`` (SynSense's reference, when installed)
======== ================================================================================

Units: loihi ``u``, ``v`` in 1/4096 of the float unit; xylo ``Isyn``/``Isyn2`` (``u``) and
``Vmem`` (``v``) chip integers. Index t is the same step in every implementation (the timing of
:mod:`snnpipe.models.from_graph`). Inputs are padded with zero steps (default: the largest output
latency) so that the response to the last column is compared too.

:func:`compare` takes any list of :class:`snnpipe.pipeline.verify.runs.Run` and is the lower-level API.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from snnpipe.pipeline.ir.errors import SnnpipeError, VerificationError
from snnpipe.pipeline.ir.graph import size
from snnpipe.pipeline.verify.runs import (Run, intsim_loihi_run, lava_run, loihi_saturation,
                                          torch_run)

TARGETS = {"loihi": ("torch", "lava", "intsim"), "lava": ("torch", "lava"),
           "xylo": ("torch", "intsim", "xylosim")}
VARS = ("u", "v", "spikes")          # causal order within a step


@dataclass
class VerifyReport:
    """Result of a comparison.

    ``rows``: one dict per compared item: ``kind`` ("output" | "population"), ``node``,
    ``var``, ``shape``, ``diffs`` {implementation: number of differing values} (against the
    reference), ``first`` {implementation: (step, sample, neuron)} of its first difference;
    ``first``: the earliest divergence over every population, or None: ``step``, ``sample``,
    ``node``, ``var``, ``neuron``, ``implementation`` and ``states`` {implementation: {var:
    [value at step - 1, value at step]}} (``u`` per current); ``saturation`` {implementation:
    {event: count}}.
    """

    target: str
    implementations: list
    batch: int
    steps: int
    rows: list = field(default_factory=list)
    first: dict | None = None
    saturation: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every implementation equals the reference everywhere."""
        return all(not any(r["diffs"].values()) for r in self.rows)

    def check(self) -> None:
        """Raise :class:`VerificationError` (CLI exit code 1) unless :attr:`ok`, naming the
        first divergence."""
        if self.ok:
            return
        f = self.first or {}
        where = f"{f.get('node')}.{f.get('var')} neuron {f.get('neuron')}" if f else None
        raise VerificationError(f"{self.target}: implementations disagree", where=where,
                                field=f.get("implementation"),
                                expected=f"equal to {self.implementations[0]}",
                                found=f"first difference at step {f.get('step')}, sample "
                                      f"{f.get('sample')}" if f else "differing outputs")

    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        return {"target": self.target, "ok": self.ok, "implementations": self.implementations,
                "reference": self.implementations[0], "batch": self.batch, "steps": self.steps,
                "rows": self.rows, "first_divergence": self.first, "saturation": self.saturation,
                "notes": self.notes}

    def text(self) -> str:
        """A readable table: one line per output and population variable, then the first
        divergence with each implementation's states, then saturation events."""
        ref, others = self.implementations[0], self.implementations[1:]
        lines = [f"verify target={self.target}: {self.batch} sample(s) x {self.steps} steps, "
                 f"reference {ref}: {'OK' if self.ok else 'DIFFERENT'}"]
        head = f"{'item':<28}{'shape':>16}" + "".join(f"{o:>16}" for o in others) + "  agree"
        lines += [head, "-" * len(head)]
        for r in self.rows:
            name = f"{r['kind'][:3]} {r['node']}.{r['var']}"
            cells = "".join(f"{'-' if o not in r['diffs'] else r['diffs'][o]:>16}" for o in others)
            agree = "yes" if not any(r["diffs"].values()) else "NO"
            lines.append(f"{name:<28}{str(tuple(r['shape'])):>16}{cells}  {agree}")
        if self.first:
            f = self.first
            lines.append(f"first divergence: step {f['step']}, sample {f['sample']}, "
                         f"{f['node']}.{f['var']} neuron {f['neuron']} ({f['implementation']} "
                         f"differs from {ref})")
            for impl, st in f["states"].items():
                vals = ", ".join(f"{k}: {v[0]} -> {v[1]}" for k, v in st.items())
                lines.append(f"  {impl:<14} {vals}")
        for impl, sat in self.saturation.items():
            if sat:
                lines.append(f"saturation {impl}: " + ", ".join(f"{k} {v}" for k, v in sat.items()))
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _first(diff: np.ndarray) -> tuple[int, int, int] | None:
    """(step, sample, flat neuron) of the earliest True in ``diff`` (B, ..., N, T)."""
    if not diff.any():
        return None
    d = diff.reshape(diff.shape[0], -1, diff.shape[-1])          # (B, S*N, T)
    t = int(np.argmax(d.any(axis=(0, 1))))
    b = int(np.argmax(d[:, :, t].any(axis=1)))
    k = int(np.argmax(d[b, :, t]))
    return t, b, k % diff.shape[-2]


def _neuron_states(run: Run, node: str, b: int, n: int, t: int) -> dict:
    out = {}
    for var in VARS:
        a = run.pops.get(node, {}).get(var)
        if a is None:
            continue
        seq = a[b, ..., n, :] if a.ndim == 4 else a[b, n, :]
        prev = seq[..., t - 1] if t > 0 else np.zeros_like(seq[..., 0])
        out[var] = [np.asarray(prev).tolist(), np.asarray(seq[..., t]).tolist()]
    return out


def compare(runs: list, target: str = "", notes=()) -> VerifyReport:
    """Compare every run with ``runs[0]`` (the reference), per output and per population variable.

    Arrays must have equal shapes (B, ..., T); a run lacking an item is left out of its row.
    """
    ref = runs[0]
    some = next(iter(ref.pops.values()))["v"]
    rep = VerifyReport(target, [r.name for r in runs], int(some.shape[0]), int(some.shape[-1]),
                       saturation={r.name: dict(r.saturation) for r in runs}, notes=list(notes))
    items = [("output", o, "out", a, {r.name: r.outputs.get(o) for r in runs[1:]})
             for o, a in ref.outputs.items()]
    items += [("population", p, var, a, {r.name: r.pops.get(p, {}).get(var) for r in runs[1:]})
              for p, d in ref.pops.items() for var in VARS if (a := d.get(var)) is not None]
    best = None
    for kind, node, var, a, theirs in items:
        row = {"kind": kind, "node": node, "var": var, "shape": list(a.shape), "diffs": {},
               "first": {}}
        for name, b in theirs.items():
            if b is None:
                continue
            if b.shape != a.shape:
                raise SnnpipeError("implementations disagree on a shape", where=f"{node}.{var}",
                                   field=name, expected=a.shape, found=b.shape)
            diff = a != b
            row["diffs"][name] = int(diff.sum())
            f = _first(diff)
            if f is None:
                continue
            row["first"][name] = list(f)
            key = (f[0], VARS.index(var) if var in VARS else 3, f[1])
            if kind == "population" and (best is None or key < best[0]):
                best = (key, node, var, f, name)
        rep.rows.append(row)
    if best is not None:
        _, node, var, (t, b, n), name = best
        rep.first = {"step": t, "sample": b, "node": node, "var": var, "neuron": n,
                     "implementation": name,
                     "states": {r.name: _neuron_states(r, node, b, n, t) for r in runs}}
    return rep


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


def _altered(cfg, alter):
    if alter is None:
        return cfg
    c = copy.deepcopy(cfg)
    out = alter(c)
    return c if out is None else out


def verify(graph, target: str = "loihi", inputs=None, *, implementations=None, alter=None,
           pad: int | None = None, n_random: int = 2, seed: int = 0,
           mapping: dict | None = None) -> VerifyReport:
    """Run ``inputs`` through the implementations of ``target`` and compare them.

    Args:
        graph: a float Graph (snnpipe.pipeline.ir.graph).
        target: "loihi" | "lava" | "xylo".
        inputs: integer counts (batch, channels, time) or (channels, time), or a dict per input;
            None: :func:`random_inputs` (``n_random`` samples, ``seed``).
        implementations: subset of ("torch", "lava", "intsim", "xylosim"), default all of the
            target (:data:`TARGETS`); "torch" is always first, the reference.
        alter: ``callable(config) -> config | None``, applied to a copy of the mapped
            LoihiConfig / XyloConfig before the integer simulators run (a fault injection
            hook: torch and Lava keep the unaltered network).
        pad: zero steps appended to the inputs; default the largest latency of the outputs.
        mapping: keyword arguments of the target's mapper (``map_graph`` /
            ``quantize_and_map``: ``limits``, ``state_headroom`` ...), as the deployment used.
    Raises:
        SnnpipeError: unknown target or implementation; the mappers' errors for graphs the
            target cannot hold (ValidationErrors, CapacityError, QuantizationError).
    """
    if target not in TARGETS:
        raise SnnpipeError("unknown target", field="target", expected=sorted(TARGETS), found=target)
    impls = tuple(implementations or TARGETS[target])
    unknown = set(impls) - set(TARGETS[target])
    if unknown:
        raise SnnpipeError("implementation not available for the target", where=target,
                           field="implementations", expected=TARGETS[target], found=sorted(unknown))
    if alter is not None and not {"intsim", "xylosim"} & set(impls):
        raise SnnpipeError("alter changes the mapped configuration: it needs an integer "
                           "simulator", field="implementations", expected="intsim",
                           found=list(impls))
    if inputs is None:
        inputs = random_inputs(graph, n_random, seed)
    if target == "xylo":
        return _verify_xylo(graph, inputs, impls, alter, pad, mapping or {})
    from snnpipe.hwmap.mappers.loihi_map import map_graph
    from snnpipe.hwmap.mappers.loihi_quant import quantize
    from snnpipe.models.from_graph import build

    lat = build(graph, "loihi").latency
    pad = max(lat.get(o, 0) for o in graph.graph["outputs"]) if pad is None else int(pad)
    x = _prepare(graph, inputs, pad)
    cfg = map_graph(graph, **(mapping or {})) if "intsim" in impls else None
    pops = cfg.populations if cfg is not None else quantize(graph)[0]["populations"]
    ref, rec = torch_run(graph, x, "loihi", 4096, "torch-loihi")
    ref.saturation = loihi_saturation(pops, rec)
    runs = [ref]
    if "lava" in impls:
        runs.append(lava_run(graph, x))
    if cfg is not None:
        runs.append(intsim_loihi_run(graph, _altered(cfg, alter), x))
    notes = ["saturation counted on the torch-loihi trajectory (Lava fixed point wraps u and "
             "clips v identically)"]
    return compare(runs, target, notes)


def _verify_xylo(graph, inputs, impls, alter, pad, mapping: dict) -> VerifyReport:
    from snnpipe.hwmap.mappers.xylo_map import quantize_and_map
    from snnpipe.pipeline.verify.xylo import intsim_xylo_run, torch_xylo_run, xylosim_run

    cfg, report = quantize_and_map(graph, **mapping)
    hops = report.latency_steps
    pad = max([0] + [hops.get(o, 0) for o in graph.graph["outputs"]]) if pad is None else int(pad)
    x = _prepare(graph, inputs, pad)
    runs = [torch_xylo_run(graph, cfg, report.layout, x)]
    sim_cfg = _altered(cfg, alter)
    if "intsim" in impls:
        runs.append(intsim_xylo_run(graph, sim_cfg, report.layout, x))
    notes = ["torch-xylo runs the graph of the mapped XyloConfig (chip integers), not the float "
             "graph: the mapper's rounding, decay-after-input compensation and multi-spike "
             "neurons are part of what is verified, not of what is compared"]
    if "xylosim" in impls:
        try:
            runs.append(xylosim_run(graph, sim_cfg, report.layout, x))
        except SnnpipeError as e:
            notes.append(f"xylosim skipped: {e}")
    return compare(runs, "xylo", notes)


__all__ = ["verify", "compare", "random_inputs", "VerifyReport", "Run", "TARGETS"]
