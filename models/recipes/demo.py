"""``snnpipe demo``: the main job, end to end, in a few minutes on 2 CPU cores.

It sits with the recipes because it trains them; everything after training goes through the
files and the Graph (:mod:`snnpipe.pipeline.report.page`).

For a recipe (default ``ipd``, sound localisation) it trains two networks, each into its own
run folder under ``out``:

1. ``<recipe>-float``: trained in floating point; exported, validated, compiled for Lava, the
   Loihi-style and the Xylo-style target, evaluated on each (Xylo shows what an unquantised
   network loses there);
2. ``<recipe>-xylo``: trained quantisation-aware in the Xylo precision; deployed to Xylo.

Every deployment is simulated, verified against the torch model in the target's integer
precision (and Lava fixed point, and SynSense's xylosim when installed), and
``out/report.html`` gathers it all (:mod:`snnpipe.pipeline.report.page`).
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from snnpipe.pipeline.ir.atomic import atomic_path, write_text_atomic

RUNS = (("float", "float", ("lava", "loihi", "xylo")), ("xylo", "xylo", ("xylo",)))
LABELS = {"torch": "torch", "torch/loihi": "torch (loihi)", "torch/xylo": "torch (xylo)",
          "lava-fixed": "Lava", "intsim/loihi": "Loihi intsim", "intsim/xylo": "Xylo intsim",
          "xylosim": "xylosim"}
DEFAULTS = dict(epochs=5, n_train=4096, n_test=512, n_eval=None)
QUICK = dict(epochs=1, n_train=256, n_test=64, n_eval=None)


def _headline(metrics: dict) -> str:
    """``(n = 512) torch 74.8 % [70.9, 78.4] -> Loihi intsim 74.8 % [..] (0 changed), Lava =
    Loihi intsim (16 checked), ...``: the first metric of each implementation."""
    from snnpipe.pipeline.report.stats import metric_names, metric_text

    def one(key, m):
        names = metric_names(m)
        label = LABELS.get(key, key)
        c = m.get("checked")
        if c and c["equal"] == c["samples"]:
            return f"{label} = {LABELS.get(c['against'], c['against'])} ({c['samples']} checked)"
        text = f"{label} {metric_text(m, names[0])}" if names else f"{label} -"
        p = m.get("paired", {})
        if "changed" in p:
            text += f" ({p['changed']} changed: {p['worse']} worse, {p['better']} better)"
        if c:
            text += f" (DIFFERS from {c['against']} on {c['samples'] - c['equal']} samples)"
        return text

    items = [one(k, m) for k, m in metrics.items()]
    n = next(iter(metrics.values()))["n"]
    head = f"(n = {n}) " + items[0]
    return head + " -> " + ", ".join(items[1:]) if len(items) > 1 else head


def run(out="out/demo", recipe: str = "ipd", epochs: int | None = None, seed: int = 0,
        n_train: int | None = None, n_test: int | None = None, n_eval: int | None = None,
        quick: bool = False, progress: bool = True) -> dict:
    """Run the demo into ``out``; returns ``{"report", "summary" (lines), "runs", "seconds",
    "verified"}``.

    ``epochs``, ``n_train``, ``n_test``: training settings; ``n_eval``: held-out samples of
    the metric on every implementation (None: the whole held-out set, ``n_test``); defaults
    :data:`DEFAULTS`, or :data:`QUICK` (tiny, for tests: the same steps) with ``quick``;
    given values win.
    """
    from snnpipe.models.recipes import registry
    from snnpipe.pipeline.ir.errors import SnnpipeError
    from snnpipe.pipeline.report.page import build
    from snnpipe.pipeline.report.data import deploy_all

    t0 = time.perf_counter()
    given = dict(epochs=epochs, n_train=n_train, n_test=n_test, n_eval=n_eval)
    settings = {k: v if v is not None else (QUICK if quick else DEFAULTS)[k] for k, v in given.items()}
    bad = {k: v for k, v in settings.items() if v is not None and int(v) < 1}
    if bad:
        raise SnnpipeError("demo settings must be at least 1", field=", ".join(bad),
                           found=list(bad.values()))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary, runs, timing = [], {}, {}
    for tag, precision, targets in RUNS:
        run_dir = out / f"{recipe}-{tag}"
        if run_dir.exists():
            shutil.rmtree(run_dir)                     # the demo's own folder: start clean
        start = time.perf_counter()
        if progress:
            print(f"[demo] training {recipe} in the {precision} precision -> {run_dir}", flush=True)
        registry.train(recipe, run_dir, epochs=settings["epochs"], seed=seed, precision=precision,
                       progress=progress, n_train=settings["n_train"], n_test=settings["n_test"])
        train_s = time.perf_counter() - start
        timing[f"train {tag}"] = train_s
        if progress:
            print(f"[demo] compiling for {', '.join(targets)}; evaluating on "
                  f"{settings['n_eval'] or settings['n_test']} held-out samples", flush=True)
        start = time.perf_counter()
        dep = deploy_all(run_dir / f"{recipe}.h5", run_dir, targets,
                         registry.mappings(recipe, run_dir))
        timing[f"compile {tag}"] = time.perf_counter() - start
        sample = registry.test_inputs(recipe, 1, seed)
        if sample is not None:                         # the report shows a real test input
            with atomic_path(run_dir / "sample" / "input.npy", suffix=".npy") as tmp, \
                    open(tmp, "wb") as fh:
                np.save(fh, np.asarray(sample[0]).astype(np.int64))
        start = time.perf_counter()
        metrics = registry.deployment_metrics(recipe, run_dir,
                                              [t for t in targets if not dep[t]["error"]],
                                              settings["n_eval"], seed, plots_dir=run_dir)
        timing[f"evaluate {tag}"] = time.perf_counter() - start
        write_text_atomic(run_dir / "deployment.json", json.dumps(metrics, indent=1) + "\n")
        info = {"title": f"{recipe}: trained in the {precision} precision",
                "recipe": recipe, "precision": precision, "seed": seed,
                "epochs": settings["epochs"], "training samples": settings["n_train"],
                "metric samples": settings["n_eval"] or settings["n_test"],
                "training time (s)": round(train_s, 1),
                "targets": ", ".join(targets)}
        if precision == "float" and "xylo" in targets:
            info["note"] = ("Xylo's arithmetic (8-bit weights, decays as shifts, input added before "
                            "the decay, multi-spike neurons) is not the float model's: the float "
                            "network is deployed there exactly as mapped, and the network trained "
                            "in the xylo precision (next section) is what keeps its accuracy")
        write_text_atomic(run_dir / "run.json", json.dumps(info, indent=1) + "\n")
        runs[tag] = {"dir": str(run_dir), "metrics": metrics}
        summary.append(f"{tag:>5}: {_headline(metrics)}")
    if progress:
        print("[demo] simulating, verifying and writing the report", flush=True)
    intro = (f"The <b>{recipe}</b> recipe trained twice (float, and quantisation-aware for Xylo), "
             "exported to HDF5, compiled for Lava and both hardware targets, simulated, and "
             "verified implementation against implementation.")
    start = time.perf_counter()
    report = build(out, out / "report.html", title=f"snnpipe demo: {recipe}", intro=intro,
                   mappings=lambda network: registry.mappings(recipe, network),
                   folders=[Path(r["dir"]) for r in runs.values()])
    timing["report (simulate, verify, plots)"] = time.perf_counter() - start
    verdicts, oks = [], []
    for tag in runs:
        for path in sorted((out / f"{recipe}-{tag}" / "verify").glob("*.json")):
            doc = json.loads(path.read_text())
            oks.append(bool(doc["ok"]))
            verdicts.append(f"{tag}/{path.stem} {'OK' if doc['ok'] else 'DIFFERENT'} "
                            f"({', '.join(doc['implementations'])})")
    seconds = time.perf_counter() - t0
    lines = [f"snnpipe demo: {recipe}, {len(runs)} networks trained and deployed in {seconds:.0f} s"]
    lines += summary
    lines.append("verification: " + ", ".join(verdicts))
    lines.append("time: " + ", ".join(f"{k} {v:.0f} s" for k, v in timing.items()))
    lines.append(f"report: {report}")
    return {"report": str(report), "summary": lines, "runs": runs, "seconds": seconds,
            "timing": {k: round(v, 2) for k, v in timing.items()},
            "verified": bool(oks) and all(oks)}
