"""What a report shows about one trained network and its deployments: read from a run folder,
computed where missing.

A run folder holds one network file ``<name>.h5`` and, as ``snnpipe train`` and ``snnpipe demo``
write them, any of::

    stats.csv, metrics.csv, metrics.json   training curves and the task metric (recipes)
    run.json                                recipe, precision, epochs, seconds (demo)
    deployment.json                         task metric per backend {"torch": {...}, ...}
    deploy/<target>/                        ``snnpipe compile`` output (lava, loihi, xylo),
                                            ``error.txt`` when the target cannot hold the net
    sample/input.npy                        one input raster (channels, time)
    verify/<target>.json                    ``snnpipe verify --json`` reports
    *.png                                   the recipe's own plots (confusion matrices ...)

:func:`collect` with ``compute=True`` fills in what is missing (compiles for every target, draws
a random input, verifies) and writes it into the folder, so that a report can be made for any
network file; everything written is written atomically. ``derived.json`` holds the sha256 of
the network those files were made from: when the network changes (trained again into the same
folder) they are removed and made again (:func:`refresh`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from snnpipe.pipeline.ir.atomic import atomic_path, write_text_atomic
from snnpipe.pipeline.ir.errors import FormatError, SnnpipeError

TARGETS = ("lava", "loihi", "xylo")
VERIFY_TARGETS = ("loihi", "xylo")          # loihi's verification includes Lava fixed point
SAMPLE_STEPS = 100


@dataclass
class RunData:
    """Everything the report shows about one run folder; ``plots``: key -> (title, path)."""

    path: Path
    network: Path
    summary: str = ""
    info: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    deployment: dict = field(default_factory=dict)
    deployments: dict = field(default_factory=dict)
    energy: dict = field(default_factory=dict)
    validation: dict = field(default_factory=dict)
    verify: dict = field(default_factory=dict)
    plots: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


DERIVED = ("deploy", "verify", "sample", "plots", "deployment.json", "confusion_*.png",
           "output_*.png", "raster_*.png", "report.html")     # *_<backend>.png: per implementation


def _sha256(path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def refresh(run_dir, network) -> bool:
    """Make the derived files of ``run_dir`` (:data:`DERIVED`) belong to ``network``: when
    ``derived.json`` names another network content, remove them. Returns True when they were
    already made from this network (stamped), False when the stamp is new."""
    run_dir = Path(run_dir)
    stamp = run_dir / "derived.json"
    digest = _sha256(network)
    old = _json(stamp) if stamp.exists() else None
    if old is not None and old.get("sha256") == digest and old.get("network") == Path(network).name:
        return True
    if old is not None:                             # made from an earlier network: stale
        import shutil

        for pattern in DERIVED:
            for p in run_dir.glob(pattern):
                shutil.rmtree(p) if p.is_dir() else p.unlink()
    _write_json(stamp, {"network": Path(network).name, "sha256": digest})
    return False


def network_file(run_dir) -> Path:
    """The run's network: the ``.h5`` beside a checkpoint of the same name, else the only
    ``.h5`` in the folder."""
    d = Path(run_dir)
    files = sorted(d.glob("*.h5"))
    paired = [f for f in files if f.with_suffix(".pt").exists()]
    if len(paired) == 1 or len(files) == 1:
        return (paired or files)[0]
    raise FormatError("a run folder holds one network file <name>.h5", file=d, field="*.h5",
                      expected="exactly one (or one beside its .pt)", found=[f.name for f in files])


def _json(path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as e:
        raise FormatError(f"not JSON ({e})", file=path) from None


def _write_json(path, doc) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(doc, indent=1, default=_plain) + "\n")


def _plain(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def deploy_all(network, run_dir, targets=TARGETS, mappings: dict | None = None) -> dict:
    """Compile ``network`` for each target into ``run_dir/deploy/<target>`` (where not done
    yet); a target that cannot hold the network gets ``error.txt`` with the reason. Returns
    ``{target: {"dir", "report" (text), "error" (text or None)}}``."""
    from snnpipe.pipeline.backends import BACKENDS
    from snnpipe.pipeline.backends.artifacts import write

    out = {}
    for t in targets:
        d = Path(run_dir) / "deploy" / t
        if not (d / "report.txt").exists() and not (d / "error.txt").exists():
            if t == "lava" and not BACKENDS["lava-fixed"].available():  # not kept: may come
                out[t] = {"dir": d, "error": "lava-nc is not installed (Python 3.10 only)",
                          "report": ""}
                continue
            try:
                write(network, t, d, mapping=(mappings or {}).get(t))
            except SnnpipeError as e:
                d.mkdir(parents=True, exist_ok=True)
                write_text_atomic(d / "error.txt", f"{type(e).__name__}: {e}\n")
        err = d / "error.txt"
        out[t] = {"dir": d, "error": err.read_text().strip() if err.exists() else None,
                  "report": (d / "report.txt").read_text() if (d / "report.txt").exists() else ""}
    return out


def sample_input(graph, run_dir, seed: int = 0) -> np.ndarray:
    """``run_dir/sample/input.npy`` (channels, time), drawn at random (20 % rate,
    :data:`SAMPLE_STEPS` steps) and saved when missing."""
    from snnpipe.pipeline.formats.spikes import load_raster
    from snnpipe.pipeline.verify.chain import random_inputs

    path = Path(run_dir) / "sample" / "input.npy"
    if not path.exists():
        x = random_inputs(graph, 1, seed, steps=SAMPLE_STEPS)
        x = np.concatenate([np.asarray(x[n]) for n in graph.graph["inputs"]], axis=1) \
            if isinstance(x, dict) else np.asarray(x)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, suffix=".npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, x.reshape(x.shape[-2:]).astype(np.int64))
    return load_raster(path)[0]


DEPLOYED = {"lava": ("lava-fixed", "Lava fixed point", None),
            "loihi": ("intsim-loihi", "Loihi intsim", "Loihi-style"),
            "xylo": ("intsim-xylo", "Xylo intsim", "Xylo-style")}


def _simulate(dep: dict, x: np.ndarray, verified: dict) -> tuple[dict, dict]:
    """Outputs (label -> (N, T)) and energy estimates (label -> dict) of each deployment on
    one input ``x`` (channels, time). Lava fixed point is not run again where the verification
    of that input (``verified``: target -> report) found it equal to the Loihi-style
    simulator: the simulator's raster stands for both, and its label says so."""
    from snnpipe.pipeline import backends
    from snnpipe.pipeline.backends.artifacts import load

    loihi = verified.get("loihi") or {}
    lava_checked = bool(loihi.get("ok")) and "lava-fixed" in loihi.get("implementations", ())
    outputs, energy = {}, {}
    for t, d in dep.items():
        if d["error"] or (t == "lava" and not (d["dir"] / "manifest.json").exists()) \
                or (t == "lava" and lava_checked and "loihi" in dep):
            continue
        name, label, cost_label = DEPLOYED[t]
        if t == "loihi" and lava_checked and "lava" in dep and not dep["lava"]["error"]:
            label += " = Lava fixed point (verified)"
        run = backends.run(load(d["dir"]), name, x[None])
        outputs[label] = run.output[0]
        if cost_label and run.energy:
            energy[cost_label] = run.energy
    return outputs, energy


def verify_all(graph, run_dir, dep: dict, x: np.ndarray) -> dict:
    """``run_dir/verify/<target>.json`` for each deployed target (computed when missing): the
    same sample through every implementation (:func:`snnpipe.pipeline.verify.chain.verify`), with the
    mapping options the deployment used."""
    from snnpipe.pipeline.backends.artifacts import load_mapping
    from snnpipe.pipeline.verify.chain import verify

    out = {}
    targets = [t for t in VERIFY_TARGETS if not dep.get(t, {"error": "-"})["error"]]
    if not targets and "lava" in dep and not dep["lava"]["error"]:
        targets = ["lava"]
    for t in targets:
        path = Path(run_dir) / "verify" / f"{t}.json"
        if not path.exists():
            mapping = load_mapping(dep[t]["dir"]) if t in dep else {}
            _write_json(path, verify(graph, t, x[None], mapping=mapping).to_dict())
        out[t] = _json(path)
    return out


def validation(graph, mappings: dict) -> dict:
    """Problems of the graph alone and under each hardware target's design rules (with the
    deployment's limits): ``{"graph" | "loihi" | "xylo": [message, ...]}``."""
    from snnpipe.pipeline.ir.validate import validate

    out = {"graph": [str(p) for p in validate(graph)]}
    for t in ("loihi", "xylo"):
        out[t] = [str(p) for p in validate(graph, target=t,
                                           limits=mappings.get(t, {}).get("limits"))]
    return out


def collect(run_dir, compute: bool = True, targets=TARGETS, mappings: dict | None = None) -> RunData:
    """The report data of the run folder ``run_dir``; with ``compute``, deployments, a sample,
    simulations, verification and plots are made where missing (``mappings``: target ->
    mapper keyword arguments for the deployments made here). Plots go to ``run_dir/plots``."""
    import csv

    from snnpipe.pipeline.ir import graph as G
    from snnpipe.pipeline.report import plots
    from snnpipe.pipeline.backends.artifacts import load_mapping
    from snnpipe.pipeline.formats.hdf5 import load

    run_dir = Path(run_dir)
    net = network_file(run_dir)
    refresh(run_dir, net)
    g = load(net)
    data = RunData(run_dir, net, summary=G.summary(g), info=_json(run_dir / "run.json") or {},
                   metrics=_json(run_dir / "metrics.json") or {},
                   deployment=_json(run_dir / "deployment.json") or {})
    data.validation = validation(g, {t: (mappings or {}).get(t) or load_mapping(run_dir / "deploy" / t)
                                     for t in ("loihi", "xylo")})
    pdir = run_dir / "plots"
    pdir.mkdir(exist_ok=True)
    if (run_dir / "stats.csv").exists():
        history = None
        if (run_dir / "metrics.csv").exists():
            with open(run_dir / "metrics.csv", newline="") as f:
                history = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)] or None
        plots.training_curves(pdir / "training.png", plots.read_stats(run_dir / "stats.csv"), history)
        data.plots["training"] = ("Training curves", pdir / "training.png")
    G.draw(g, pdir / "graph.png")
    data.plots["graph"] = ("The network graph", pdir / "graph.png")
    if not compute:
        return data
    dep = deploy_all(net, run_dir, targets, mappings)
    data.deployments = dep
    x = sample_input(g, run_dir)
    data.verify = verify_all(g, run_dir, dep, x)
    outputs, data.energy = _simulate(dep, x, data.verify)
    dt = float(g.graph.get("dt", 1e-3))
    plots.raster_gif(pdir / "input.gif", x, window=max(1, x.shape[-1] // 40))
    data.plots["input_gif"] = ("Input sample (animated)", pdir / "input.gif")
    readout = g.nodes[g.graph["outputs"][0]].get("model") == "li"     # outputs are its v
    plots.rasters(pdir / "rasters.png", {"input": x, **outputs}, dt,
                  "input and output of each deployment" + (" (the readout's v)" if readout else ""),
                  states=set(outputs) if readout else set())
    data.plots["rasters"] = ("Input and output rasters", pdir / "rasters.png")
    for png in sorted(p for k in ("confusion", "output", "raster") for p in run_dir.glob(f"{k}*.png")):
        data.plots[png.stem] = (png.stem.replace("_", " "), png)
    for t, d in dep.items():
        if d["error"] or t == "lava":
            continue
        rep = json.loads(_resources(t, d["dir"]))
        if t == "loihi":
            plots.loihi_cores(pdir / "loihi_cores.png", rep)
            data.plots["loihi_cores"] = ("Loihi-style core map", pdir / "loihi_cores.png")
        else:
            plots.xylo_resources(pdir / "xylo_resources.png", rep)
            data.plots["xylo_resources"] = ("Xylo-style resources", pdir / "xylo_resources.png")
        d["resources"] = rep
    if data.energy:
        plots.energy(pdir / "energy.png", data.energy)
        data.plots["energy"] = ("Energy and latency per inference (estimates)", pdir / "energy.png")
    if data.verify:
        plots.verification(pdir / "verification.png", data.verify)
        data.plots["verification"] = ("Verification (differences per implementation)",
                                      pdir / "verification.png")
    return data


def _resources(target: str, cfg_dir) -> str:
    """The resource report of a saved config as JSON text."""
    from snnpipe.pipeline.backends.artifacts import load_mapping

    if target == "loihi":
        from snnpipe.hwmap.mappers.loihi_config import load
        from snnpipe.hwmap.mappers.loihi_map import resource_report

        rep = resource_report(load(cfg_dir))
    else:
        from snnpipe.hwmap.mappers.xylo_config import XyloConfig
        from snnpipe.hwmap.targets.xylo import XYLO_AUDIO2
        from snnpipe.hwmap.mappers.xylo_report import resource_report

        rep = resource_report(XyloConfig.load(cfg_dir),
                              load_mapping(cfg_dir).get("limits", XYLO_AUDIO2))
    return json.dumps(rep, default=_plain)
