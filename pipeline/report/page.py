"""The HTML report of trained networks and their deployments (``snnpipe report``, ``snnpipe demo``).

One self-contained file: every plot is embedded as a data URI, no script or style is fetched.
A small inline script marks ``<body data-images="loaded/total">`` once the page has loaded, so
that a headless browser can check that every plot decoded.
"""
from __future__ import annotations

import base64
import html
from datetime import datetime, timezone
from pathlib import Path

from snnpipe.pipeline.ir.atomic import write_text_atomic
from snnpipe.pipeline.report import stats
from snnpipe.pipeline.report.data import RunData, collect, network_file

CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.6em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}.ok{color:#0a0;font-weight:bold}
.bad{color:#c00;font-weight:bold}figure{display:inline-block;margin:.5em;vertical-align:top}
figcaption{font-size:.85em;color:#555}pre{background:#f7f7f7;padding:.6em;font-size:.8em;
overflow-x:auto}img{max-width:100%;border:1px solid #e4e4e4}"""

SCRIPT = """window.addEventListener('load',function(){var a=Array.from(document.images);
var ok=a.filter(function(i){return i.complete&&i.naturalWidth>0}).length;
document.body.setAttribute('data-images',ok+'/'+a.length);});"""

MIME = {".png": "image/png", ".gif": "image/gif"}


def _e(x) -> str:
    return html.escape(str(x))


def _img(key: str, title: str, path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    mime = MIME.get(Path(path).suffix, "image/png")
    return (f'<figure><img alt="{_e(key)}" data-plot="{_e(key)}" src="data:{mime};base64,{data}">'
            f"<figcaption>{_e(title)}</figcaption></figure>")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return _e(v)


def _table(header: list, rows: list, left: int = 1) -> str:
    th = "".join(f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>'
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _metrics_table(run: RunData) -> str:
    """Each implementation's metrics with 95 % intervals and n, and what changed against the
    trained model (:mod:`snnpipe.pipeline.report.stats`)."""
    dep = run.deployment or ({"torch": run.metrics} if run.metrics else {})
    if not dep:
        return "<p>No task metric (not a recipe run).</p>"
    keys = list(dict.fromkeys(k for m in dep.values() for k in stats.metric_names(m)))
    rows = [[_e(b), _e(m.get("n", ""))] + [_e(stats.metric_text(m, k)) if k in m else ""
                                           for k in keys]
            + [_e("; ".join(t for t in (stats.change_text(m), stats.check_text(m)) if t))]
            for b, m in dep.items()]
    return (_table(["implementation", "n"] + [f"{k} [95 % interval]" for k in keys]
                   + ["against the trained model"], rows)
            + "<p>Intervals: Wilson for accuracies, bootstrap of the per-sample values otherwise; "
              "changes are paired (the same samples), with an exact McNemar test.</p>")


def _verify_html(target: str, rep: dict) -> str:
    others = rep["implementations"][1:]
    verdict = ('<span class="ok">all agree</span>' if rep["ok"]
               else '<span class="bad">DIFFERENT</span>')
    head = (f"<h4>{_e(target)}: {rep['batch']} sample(s) x {rep['steps']} steps, reference "
            f"{_e(rep['reference'])}: {verdict}</h4>")
    rows = []
    for r in rep["rows"]:
        cells = [_e(r["diffs"].get(o, "-")) for o in others]
        agree = '<span class="ok">yes</span>' if not any(r["diffs"].values()) else '<span class="bad">NO</span>'
        rows.append([f"{_e(r['kind'])} {_e(r['node'])}.{_e(r['var'])}", _e(tuple(r["shape"]))] + cells + [agree])
    out = head + _table(["item", "shape"] + [f"differences: {o}" for o in others] + ["agree"], rows, 2)
    f = rep.get("first_divergence")
    if f:
        out += (f"<p>First divergence: step {f['step']}, sample {f['sample']}, "
                f"{_e(f['node'])}.{_e(f['var'])} neuron {f['neuron']} ({_e(f['implementation'])}).</p>")
    sat = {k: v for k, v in rep.get("saturation", {}).items() if v}
    if sat:
        out += "<p>Saturation events: " + "; ".join(
            f"{_e(k)}: " + ", ".join(f"{_e(a)} {b}" for a, b in v.items()) for k, v in sat.items()) + "</p>"
    return out


def _deploy_html(run: RunData) -> str:
    rows = []
    for t, d in run.deployments.items():
        if d["error"]:
            rows.append([_e(t), '<span class="bad">not deployable</span>', _e(d["error"])])
            continue
        res = d.get("resources")
        if t == "loihi" and res:
            tot = res["totals"]
            what = (f"{tot['cores']} cores on {tot['chips']} chip(s), {tot['neurons']} neurons, "
                    f"{tot['synapses']} synapses, {tot['memory_bytes'] / 1024:.1f} KiB")
        elif t == "xylo" and res:
            what = (f"{res['target']}: {res['hidden_neurons']['used']} hidden / "
                    f"{res['output_neurons']['used']} output neurons, "
                    f"{res['synapses']['input'] + res['synapses']['recurrent'] + res['synapses']['output']} synapses")
        else:
            what = "Lava processes (fixed and floating point)"
        rows.append([_e(t), '<span class="ok">compiled</span>', _e(what)])
    out = _table(["target", "status", "resources"], rows, 3)
    for t, d in run.deployments.items():
        if d["report"]:
            out += f"<details><summary>{_e(t)} report</summary><pre>{_e(d['report'])}</pre></details>"
    return out


def _energy_html(run: RunData) -> str:
    if not run.energy:
        return ""
    rows = [[_e(k), f"{v['energy_j'] * 1e6:.3g}", f"{v['latency_step_s'] * 1e6:.3g}"]
            for k, v in run.energy.items()]
    return (_table(["deployment", "energy per inference (uJ)", "latency per step (us)"], rows)
            + "<p>Estimates from the simulators' event counts and documented cost tables "
              "(hwmap/intsim/energy.py, xylo_cost.py), not measurements.</p>")


def _run_html(run: RunData) -> str:
    info = run.info
    title = info.get("title") or run.path.name
    parts = [f'<h2 id="{_e(run.path.name)}">{_e(title)}</h2>']
    if info:
        parts.append(_table(["setting", "value"], [[_e(k), _e(v)] for k, v in info.items()
                                                   if k != "title"], 2))
    parts.append("<h3>Task metric before and after deployment</h3>" + _metrics_table(run))
    if run.validation:
        rows = [[_e(k), '<span class="ok">valid</span>' if not v else
                 f'<span class="bad">{len(v)} problem(s)</span>', "<br>".join(_e(x) for x in v[:8])]
                for k, v in run.validation.items()]
        parts.append("<h3>Validation</h3>" + _table(["rules", "verdict", "problems"], rows, 3))
    parts.append("<h3>Deployments</h3>" + _deploy_html(run))
    if run.verify:
        parts.append("<h3>Verification: the same input through every implementation</h3>"
                     + "".join(_verify_html(t, r) for t, r in run.verify.items()))
    parts.append("<h3>Energy and latency</h3>" + _energy_html(run))
    parts.append("<h3>Plots</h3>" + "".join(_img(k, t, p) for k, (t, p) in run.plots.items()))
    parts.append(f"<details><summary>network summary</summary><pre>{_e(run.summary)}</pre></details>")
    parts += [f"<p>Note: {_e(n)}</p>" for n in run.notes]
    return "\n".join(parts)


def render(runs: list, title: str = "snnpipe report", intro: str = "") -> str:
    """The HTML page of ``runs`` (:class:`RunData`)."""
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    toc = "".join(f'<li><a href="#{_e(r.path.name)}">{_e(r.info.get("title") or r.path.name)}</a></li>'
                  for r in runs)
    body = "\n".join(_run_html(r) for r in runs)
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{_e(title)}</h1><p>{intro}</p>"
            f"<p>Generated {when} by snnpipe.</p><ul>{toc}</ul>{body}"
            f"<script>{SCRIPT}</script></body></html>")


def run_folders(path) -> list:
    """``path`` itself when it holds a network file, else its sub-folders that do (sorted); a
    network file ``NAME.h5`` stands for its folder."""
    from snnpipe.pipeline.ir.errors import FormatError

    path = Path(path)
    if path.is_file() and path.suffix == ".h5":
        return [path.parent]
    if not path.is_dir():
        raise FormatError("no such folder" if not path.exists() else "not a folder or a .h5 file",
                          file=path, expected="a run folder or its NAME.h5")
    if any(path.glob("*.h5")):
        return [path]
    return sorted(p for p in path.iterdir() if p.is_dir() and any(p.glob("*.h5")))


def build(path, out=None, compute: bool = True, title: str = "snnpipe report", intro: str = "",
          mappings=None, folders=None) -> Path:
    """Write the report of the run folder(s) at ``path`` (:func:`run_folders`, or ``folders``)
    to ``out`` (default ``report.html`` in the folder); returns its path. ``mappings``: the
    mapper keyword arguments per target for deployments made here, or
    ``callable(network_path) -> dict``."""
    from snnpipe.pipeline.ir.errors import FormatError

    folders = run_folders(path) if folders is None else [Path(f) for f in folders]
    if not folders:
        raise FormatError("no run folder: expected a folder with a network file <name>.h5 or "
                          "sub-folders holding one", file=path)
    runs = [collect(f, compute=compute,
                    mappings=mappings(network_file(f)) if callable(mappings) else mappings)
            for f in folders]
    if out is None:
        out = (Path(path).parent if Path(path).is_file() else Path(path)) / "report.html"
    out = Path(out)
    write_text_atomic(out, render(runs, title, intro))
    return out
