"""The ``snnpipe`` command line (DESIGN.md section 7).

Exit codes: 0 success, 1 a check or verification failed, 2 bad input (any SnnpipeError).
Errors print one line to stderr; ``--debug`` shows the traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

import numpy as np

from snnpipe import __version__
from snnpipe.pipeline.ir.errors import SnnpipeError, VerificationError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def cmd_doctor(args) -> int:
    from snnpipe.pipeline.cli.doctor import as_json, format_checks, run_checks

    results = run_checks()
    if args.json:
        print(json.dumps(as_json(results), indent=1))
    else:
        print(format_checks(results))
    return EXIT_OK if all(c.ok for c in results) else EXIT_FAILED


def _problem_lines(problems) -> list[str]:
    return [str(p) for p in problems]


def cmd_inspect(args) -> int:
    from snnpipe.pipeline.ir import graph as G
    from snnpipe.pipeline.ir.errors import GraphError, ValidationErrors
    from snnpipe.pipeline.formats.hdf5 import load
    from snnpipe.pipeline.ir.validate import validate

    try:
        g = load(args.file)
        problems = validate(g, target=args.target)
    except ValidationErrors as e:
        g, problems = None, e.problems
    except GraphError as e:
        g, problems = None, [e]
    if args.json:
        out = {"file": str(args.file), "valid": not problems, "target": args.target,
               "problems": _problem_lines(problems)}
        if g is not None:
            out["graph"] = G.describe(g)
        print(json.dumps(out, indent=1))
    else:
        if g is not None:
            print(G.summary(g))
        verdict = "valid" if not problems else f"INVALID: {len(problems)} problem(s)"
        print(f"validation{' for ' + args.target if args.target else ''}: {verdict}")
        for line in _problem_lines(problems):
            print(f"  - {line}")
    return EXIT_OK if not problems else EXIT_FAILED


def cmd_compile(args) -> int:
    from snnpipe.pipeline.backends.deploy import compile_network

    report = compile_network(args.file, args.target, args.output)
    if args.json:
        print(json.dumps(report, indent=1, default=str))
    else:
        print((Path(args.output) / "report.txt").read_text(), end="")
        print(f"wrote {args.output}")
    return EXIT_OK


def cmd_simulate(args) -> int:
    from snnpipe.pipeline.backends.deploy import input_layout, simulate
    from snnpipe.pipeline.formats.spikes import load_raster, save_result

    channels, shape, dt_ms = input_layout(args.network, args.backend)
    raster = load_raster(args.input, channels=channels, shape=shape, dt_ms=dt_ms)
    result = simulate(args.network, args.backend, raster, record=args.record)
    squeeze = not str(args.input).endswith(".npy") or str(args.input).endswith(".events.npy") \
        or np.load(args.input, mmap_mode="r").ndim == 2        # keep the input's leading shape
    pick = (lambda a: a[0]) if squeeze else (lambda a: a)
    save_result(args.output, pick(result.output), backend=result.backend,
                t_offset=result.t_offset, states={k: pick(v) for k, v in result.states.items()})
    summary = {"output": str(args.output), "backend": result.backend, "t_offset": result.t_offset,
               "shape": list(pick(result.output).shape), "sum_abs": int(np.abs(result.output).sum()),
               "states": sorted(result.states)}
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(f"{result.backend}: output {tuple(summary['shape'])}, sum |output| {summary['sum_abs']}, "
              f"t_offset {result.t_offset}; wrote {args.output}")
    return EXIT_OK


def cmd_verify(args) -> int:
    from snnpipe.pipeline.formats.hdf5 import load
    from snnpipe.pipeline.formats.spikes import load_raster
    from snnpipe.pipeline.verify.chain import random_inputs, verify

    g = load(args.file)
    if args.input:
        ins = g.graph["inputs"]
        width = sum(int(np.prod(g.nodes[n]["shape"])) for n in ins)
        inputs = load_raster(args.input, channels=width,
                             shape=g.nodes[ins[0]]["shape"] if len(ins) == 1 else None,
                             dt_ms=float(g.graph.get("dt", 1e-3)) * 1e3)
    else:
        inputs = random_inputs(g, args.random, args.seed, steps=args.steps)
    recipe = _recipe_of(args.file)
    mapping = {}
    if recipe:
        from snnpipe.models.recipes import registry

        mapping = registry.mappings(recipe, args.file).get(args.target, {})
    report = verify(g, args.target, inputs, mapping=mapping)
    out = report.to_dict()
    if recipe and args.metric_samples > 0:
        out["metric"] = _recipe_metric(recipe, args.file, args.target, args.metric_samples, args.seed)
    if args.json:
        print(json.dumps(out, indent=1, default=str))
    else:
        print(report.text())
        if "metric" in out:
            m = out["metric"]
            print(f"recipe {recipe}, {m['n']} test samples: " + "; ".join(
                f"{k} {m['before'][k]:.4g} -> {m['after'][k]:.4g}" for k in m["before"]
                if isinstance(m["before"][k], float)) + f" (torch -> {m['backend']})")
    return EXIT_OK if report.ok else EXIT_FAILED


def _recipe_of(path) -> str | None:
    """The recipe that trained the network at ``path``: its file is ``<recipe>.h5`` beside the
    checkpoint ``<recipe>.pt`` that a recipe's training writes."""
    p = Path(path)
    from snnpipe.models.recipes.registry import RECIPES

    return p.stem if p.stem in RECIPES and p.with_suffix(".pt").exists() else None


def _recipe_metric(recipe: str, path, target: str, n: int, seed: int) -> dict:
    """The recipe's metric on torch and on the target's deployment, on the same ``n`` samples."""
    from snnpipe.models.recipes import registry

    backend, sim = ("lava-fixed", None) if target == "lava" else ("intsim", target)
    before = registry.evaluate(recipe, path, "torch", seed=seed, n=n)
    after = registry.evaluate(recipe, path, backend, sim, seed=seed, n=n)
    keys = [k for k, v in before.items() if isinstance(v, float)]
    return {"n": n, "backend": backend if sim is None else f"{backend}/{sim}",
            "before": {k: before[k] for k in keys}, "after": {k: after[k] for k in keys}}


def cmd_demo(args) -> int:
    from snnpipe.models.recipes.demo import run

    result = run(args.output, recipe=args.recipe, epochs=args.epochs, seed=args.seed,
                 n_eval=args.samples, quick=args.quick, progress=not args.json)
    if args.json:
        print(json.dumps(result, indent=1, default=str))
    else:
        print("\n".join(result["summary"]))
    return EXIT_OK if result["verified"] else EXIT_FAILED


def cmd_raster(args) -> int:
    from snnpipe.pipeline.report import plots
    from snnpipe.pipeline.ir.errors import FormatError
    from snnpipe.pipeline.formats.spikes import load_raster

    try:
        shape = tuple(int(v) for v in args.shape.split(",")) if args.shape else None
    except ValueError:
        raise FormatError("--shape must be integers separated by commas", field="shape",
                          expected="C,H,W", found=args.shape) from None
    batch = load_raster(args.input, shape=shape, dt_ms=args.dt_ms)
    if not 0 <= args.sample < len(batch):
        raise FormatError("no such sample", file=args.input, field="sample",
                          expected=f"0..{len(batch) - 1}", found=args.sample)
    raster = batch[args.sample]
    suffix = Path(args.output).suffix
    if suffix == ".gif":
        plots.raster_gif(args.output, raster, shape=shape, window=args.window)
    elif suffix == ".png":
        plots.rasters(args.output, {Path(args.input).name: raster}, args.dt_ms * 1e-3, states=())
    else:
        raise FormatError("unsupported plot file type", file=args.output, field="suffix",
                          expected=".png | .gif", found=suffix or "none")
    print(f"wrote {args.output}: {raster.shape[0]} channels x {raster.shape[1]} steps, "
          f"{int(raster.sum())} events")
    return EXIT_OK


def cmd_report(args) -> int:
    from snnpipe.pipeline.report.page import build

    from snnpipe.pipeline.report.page import run_folders
    from snnpipe.pipeline.report.data import deploy_all, network_file, refresh

    def recipe_mappings(network):                  # a recipe's run deploys as it evaluates
        recipe = _recipe_of(network)
        if recipe is None:
            return {}
        from snnpipe.models.recipes import registry

        return registry.mappings(recipe, network)

    if not args.no_compute:                        # a recipe's run: its metric on each target
        for folder in run_folders(args.dir):
            net = network_file(folder)
            recipe = _recipe_of(net)
            if recipe is None or (refresh(folder, net) and (folder / "deployment.json").exists()):
                continue
            from snnpipe.models.recipes import registry
            from snnpipe.pipeline.ir.atomic import write_text_atomic

            dep = deploy_all(net, folder, mappings=recipe_mappings(net))
            metrics = registry.deployment_metrics(
                recipe, net, [t for t, d in dep.items() if not d["error"]], args.samples,
                plots_dir=folder)
            write_text_atomic(folder / "deployment.json", json.dumps(metrics, indent=1) + "\n")
    path = build(args.dir, args.output, compute=not args.no_compute, mappings=recipe_mappings)
    print(f"wrote {path}")
    return EXIT_OK


def _print_metrics(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=1, default=str))
        return
    for key, value in result.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in value.items())
        elif isinstance(value, float):
            value = f"{value:.4g}"
        print(f"{key}: {value}")


def cmd_train(args) -> int:
    from snnpipe.models.recipes import registry

    out = args.output or str(Path("out") / args.recipe)
    result = registry.train(args.recipe, out, epochs=args.epochs, seed=args.seed,
                            device=args.device, precision=args.precision, progress=not args.json)
    _print_metrics(result, args.json)
    return EXIT_OK


def cmd_evaluate(args) -> int:
    from snnpipe.models.recipes import registry

    result = registry.evaluate(args.recipe, args.path, backend=args.backend, target=args.target,
                               seed=args.seed, n=args.n)
    _print_metrics(result, args.json)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="snnpipe",
        description="From PyTorch-trained spiking networks to Lava and neuromorphic hardware, "
                    "verified bit for bit.")
    p.add_argument("--version", action="version", version=f"snnpipe {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks on errors")

    d = sub.add_parser("doctor", parents=[common], help="check the environment (Python, torch, Lava, a 3-neuron Lava run)",
                       description="Check the environment: Python, torch (and CUDA), numpy, h5py, "
                                   "networkx, lava-nc, lava-dl, and a 3-neuron network run on "
                                   "Lava's CPU simulator in fixed and floating point.")
    d.add_argument("--json", action="store_true", help="print the report as JSON")
    d.set_defaults(func=cmd_doctor)

    i = sub.add_parser("inspect", parents=[common], help="summarise and validate a network file",
                       description="Print the graph of an HDF5 network (nodes, edges, shapes, "
                                   "parameter ranges) and the validation verdict. Exit 0 when "
                                   "valid, 1 when the graph has problems, 2 when the file "
                                   "cannot be read.")
    i.add_argument("file", metavar="NET.h5")
    i.add_argument("--target", choices=("loihi", "xylo"),
                   help="also check the target's design rules")
    i.add_argument("--json", action="store_true", help="print the summary and verdict as JSON")
    i.set_defaults(func=cmd_inspect)

    c = sub.add_parser("compile", parents=[common], help="compile a network for Lava or a chip",
                       description="lava: a bundle that reruns on Lava (the HDF5 file and a "
                                   "manifest); loihi / xylo: config.json (+ .npz) and report.txt "
                                   "with the resource report. Design-rule violations exit 2.")
    c.add_argument("file", metavar="NET.h5")
    c.add_argument("--target", required=True, choices=("lava", "loihi", "xylo"))
    c.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory")
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.set_defaults(func=cmd_compile)

    m = sub.add_parser("simulate", parents=[common], help="run one implementation on an input raster",
                       description="Run an input raster through one backend and save OUT.npz with "
                                   "`output` (integer counts, the input's leading shape), "
                                   "`t_offset`, `backend` and, with --record, `<node>/<variable>` "
                                   "states.")
    m.add_argument("network", metavar="NET.h5|config.json|DIR")
    m.add_argument("--input", required=True, metavar="SPIKES",
                   help=".npy raster (channels, time) or (batch, channels, time) of event counts, "
                        "or an event file (.bs1, .bs2, .events.npy; 1 ms bins)")
    m.add_argument("--backend", required=True, choices=("lava-fixed", "lava-float", "intsim"))
    m.add_argument("-o", "--output", required=True, metavar="OUT.npz")
    m.add_argument("--record", action="store_true", help="also save every population's states")
    m.add_argument("--json", action="store_true", help="print a summary as JSON")
    m.set_defaults(func=cmd_simulate)

    recipes = ("oxford", "wavesense", "synnet", "chirp", "ipd")
    v = sub.add_parser("verify", parents=[common],
                       help="run every implementation of a target on the same input and compare",
                       description="Run the same inputs through torch (in the target's integer "
                                   "precision), Lava fixed point and the target's integer "
                                   "simulator (xylosim too for xylo); report per population "
                                   "whether spikes and states agree and the first divergence. "
                                   "Exit 0 when all agree, 1 when not, 2 on bad input.")
    v.add_argument("file", metavar="NET.h5")
    v.add_argument("--target", required=True, choices=("loihi", "xylo", "lava"))
    src = v.add_mutually_exclusive_group()
    src.add_argument("--input", metavar="SPIKES",
                     help=".npy raster of event counts or an event file (.bs1, .bs2, .events.npy)")
    src.add_argument("--random", type=int, default=2, metavar="N",
                     help="N random input samples (default 2)")
    v.add_argument("--steps", type=int, default=50, help="steps of each random sample")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--metric-samples", type=int, default=64, metavar="N",
                   help="for a recipe's network (<recipe>.h5 beside its .pt): the task metric on "
                        "N test samples before and after deployment (0: skip)")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.set_defaults(func=cmd_verify)

    dm = sub.add_parser("demo", parents=[common], help="the main job: train, deploy, verify, report",
                        description="Train a recipe (default ipd) in float and quantisation-aware "
                                    "for Xylo, export, validate, compile for Lava and both "
                                    "targets, simulate, verify, and write OUT/report.html with "
                                    "the plots. Exit 1 when a verification fails.")
    dm.add_argument("-o", "--output", default="out/demo", metavar="OUT")
    dm.add_argument("--recipe", default="ipd", choices=recipes)
    dm.add_argument("--epochs", type=int, help="training epochs of each network (default 6)")
    dm.add_argument("--samples", type=int,
                    help="test samples of the metric on every implementation (default 32)")
    dm.add_argument("--seed", type=int, default=0)
    dm.add_argument("--quick", action="store_true",
                    help="tiny data and one epoch (for tests); --epochs and --samples still apply")
    dm.add_argument("--json", action="store_true", help="print the result as JSON")
    dm.set_defaults(func=cmd_demo)

    ra = sub.add_parser("raster", parents=[common], help="plot spikes as a raster (PNG) or animation (GIF)",
                        description="Draw SPIKES (a .npy raster or an event file) as a raster plot "
                                    "(.png) or an animated GIF (.gif): with --shape C,H,W each "
                                    "frame is an image of --window steps, else a sweep over time.")
    ra.add_argument("input", metavar="SPIKES")
    ra.add_argument("-o", "--output", required=True, metavar="OUT.png|OUT.gif")
    ra.add_argument("--shape", metavar="C,H,W", help="the input's shape (2-D events: C,H,W)")
    ra.add_argument("--dt-ms", type=float, default=1.0, help="time bin of event files (ms)")
    ra.add_argument("--sample", type=int, default=0, help="which sample of a batch raster")
    ra.add_argument("--window", type=int, default=5, help="steps per GIF frame")
    ra.set_defaults(func=cmd_raster)

    r = sub.add_parser("report", parents=[common], help="the HTML report of trained networks",
                       description="Write DIR/report.html for a run folder (a network <name>.h5, "
                                   "with what training and deployment left there) or a folder "
                                   "of run folders: compiles for each target, simulates a "
                                   "sample, verifies and plots where that is not done yet.")
    r.add_argument("dir", metavar="DIR")
    r.add_argument("-o", "--output", metavar="HTML", help="default DIR/report.html")
    r.add_argument("--no-compute", action="store_true",
                   help="only show what is in DIR (no compiling, simulating or verifying)")
    r.add_argument("--samples", type=int, default=32,
                   help="a recipe's run: test samples of its metric on each implementation")
    r.set_defaults(func=cmd_report)

    t = sub.add_parser("train", parents=[common], help="train a recipe (a reference workflow)",
                       description="Train one of the five reference workflows and write its "
                                   "checkpoint, HDF5 export, stats CSV and plots into DIR "
                                   "(default out/RECIPE).")
    t.add_argument("recipe", choices=recipes)
    t.add_argument("-o", "--output", metavar="DIR")
    t.add_argument("--epochs", type=int, help="default: the recipe's (a few minutes on 2 CPU cores)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    t.add_argument("--precision", choices=("float", "loihi", "xylo"),
                   help="train in a target's integer precision (quantisation-aware)")
    t.add_argument("--json", action="store_true", help="print the metrics as JSON")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", parents=[common],
                       help="a recipe's metric on its held-out set for one implementation",
                       description="The recipe's metric on held-out data for a trained run "
                                   "(DIR, .pt or .h5) or a target's config.json, on torch, Lava "
                                   "fixed point or the target's integer simulator.")
    e.add_argument("recipe", choices=recipes)
    e.add_argument("path", metavar="RUN|NET.h5|config.json")
    e.add_argument("--backend", default="torch", choices=("torch", "lava-fixed", "intsim"))
    e.add_argument("--target", choices=("loihi", "xylo"), help="the integer simulator's target")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("-n", type=int, help="number of test samples")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")
    e.set_defaults(func=cmd_evaluate)
    return p


def main(argv=None) -> int:
    """Entry point of the ``snnpipe`` console script. Returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return args.func(args)
    except VerificationError as e:
        if args.debug:
            traceback.print_exc()
        print(f"snnpipe: verification failed: {e}", file=sys.stderr)
        return EXIT_FAILED
    except SnnpipeError as e:
        if args.debug:
            traceback.print_exc()
        print(f"snnpipe: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
