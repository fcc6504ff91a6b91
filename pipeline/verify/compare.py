"""Comparison of implementations' runs, step by step: the equality table, the first divergence
and each implementation's states there (:class:`VerifyReport`)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snnpipe.pipeline.ir.errors import SnnpipeError, VerificationError

VARS = ("u", "v", "real", "imag", "sigma", "act", "residue", "spikes")   # causal order in a step


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


def _neuron_states(run, node: str, b: int, n: int, t: int) -> dict:
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
    """Compare every run (:class:`snnpipe.pipeline.backends.base.Run`) with ``runs[0]`` (the
    reference), per output and per population variable.

    Arrays must have equal shapes (B, ..., T); a run lacking an item is left out of its row.
    """
    ref = runs[0]
    some = next(a for d in ref.pops.values() for a in d.values())
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
