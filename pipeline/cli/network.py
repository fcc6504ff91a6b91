"""Commands on a network file (HDF5 or NIR): ``inspect``, ``compile``, ``simulate``, ``verify``."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from snnpipe.pipeline.cli.common import (EXIT_FAILED, EXIT_OK, file_options, read_options,
                                         recipe_of)


def add_inspect(sub, parent) -> None:
    i = sub.add_parser("inspect", parents=[parent, file_options()], help="summarise and validate a network file",
                       description="Print the graph of a network file (ours, lava-dl's netx HDF5 or "
                                   "NIR: nodes, edges, shapes, parameter ranges; for NIR the "
                                   "producer and dt used) and the validation verdict. Exit 0 when "
                                   "valid, 1 when the graph has problems, 2 when the file "
                                   "cannot be read.")
    i.add_argument("file", metavar="NET.h5|NET.nir")
    i.add_argument("--target", choices=("loihi", "xylo"),
                   help="also check the target's design rules")
    i.add_argument("--json", action="store_true", help="print the summary and verdict as JSON")
    i.set_defaults(func=cmd_inspect)


def cmd_inspect(args) -> int:
    from snnpipe.pipeline.formats.network_file import read
    from snnpipe.pipeline.ir import graph as G
    from snnpipe.pipeline.ir.errors import GraphError, ValidationErrors
    from snnpipe.pipeline.ir.validate import validate

    info = None
    try:
        g, info = read(args.file, read_options(args))
        problems = validate(g, target=args.target)
    except ValidationErrors as e:
        g, problems = None, e.problems
    except GraphError as e:
        g, problems = None, [e]
    lines = [str(p) for p in problems]
    if args.json:
        out = {"file": str(args.file), "valid": not problems, "target": args.target,
               "problems": lines}
        if info is not None:
            out["nir"] = asdict(info)
        if g is not None:
            out["graph"] = G.describe(g)
        print(json.dumps(out, indent=1, default=str))
    else:
        if info is not None:
            print(_nir_text(info))
        if g is not None:
            print(G.summary(g))
        verdict = "valid" if not problems else f"INVALID: {len(problems)} problem(s)"
        print(f"validation{' for ' + args.target if args.target else ''}: {verdict}")
        for line in lines:
            print(f"  - {line}")
    return EXIT_OK if not problems else EXIT_FAILED


def _nir_text(info) -> str:
    """What a NIR import used, for ``inspect``."""
    how = "detected: " + info.reason if info.detected else info.reason or "as given"
    lines = [f"NIR file: producer {info.producer} ({how}); dt {info.dt:g} s"]
    late = {k: v for k, v in info.offsets.items() if v}
    if late:
        lines.append("  steps behind the producer's own simulation: "
                     + ", ".join(f"{k} {v}" for k, v in late.items()))
    if info.bias:
        lines.append(f"  constant drives come from population {info.bias!r} (one neuron that "
                     "fires every step)")
    lines += [f"  warning: {w}" for w in info.warnings]
    return "\n".join(lines)


def add_compile(sub, parent) -> None:
    c = sub.add_parser("compile", parents=[parent, file_options()], help="compile a network for Lava or a chip",
                       description="lava: a bundle that reruns on Lava (the HDF5 file and a "
                                   "manifest); loihi / xylo: config.json (+ .npz) and report.txt "
                                   "with the resource report. Design-rule violations exit 2.")
    c.add_argument("file", metavar="NET.h5|NET.nir")
    c.add_argument("--target", required=True, choices=("lava", "loihi", "xylo"))
    c.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory")
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.set_defaults(func=cmd_compile)


def cmd_compile(args) -> int:
    from snnpipe.pipeline.backends.artifacts import write

    report = write(args.file, args.target, args.output, options=read_options(args))
    if args.json:
        print(json.dumps(report, indent=1, default=str))
    else:
        print((Path(args.output) / "report.txt").read_text(), end="")
        print(f"wrote {args.output}")
    return EXIT_OK


def add_simulate(sub, parent) -> None:
    from snnpipe.pipeline.backends import BACKENDS

    m = sub.add_parser("simulate", parents=[parent, file_options()], help="run one implementation on an input raster",
                       description="Run an input raster through one backend and save OUT.npz with "
                                   "`output` (integer counts, the input's leading shape), "
                                   "`t_offset`, `backend` and, with --record, `<node>/<variable>` "
                                   "states. Backends: " + "; ".join(
                                       f"{n}: {b.describe}" for n, b in BACKENDS.items())
                                   + "; intsim: the integer simulator of a config's target.")
    m.add_argument("network", metavar="NET.h5|NET.nir|config.json|DIR")
    m.add_argument("--input", required=True, metavar="SPIKES",
                   help=".npy raster (channels, time) or (batch, channels, time) of event counts, "
                        "or an event file (.bs1, .bs2, .events.npy; 1 ms bins)")
    m.add_argument("--backend", required=True, choices=tuple(BACKENDS) + ("intsim",))
    m.add_argument("-o", "--output", required=True, metavar="OUT.npz")
    m.add_argument("--record", action="store_true", help="also save every population's states")
    m.add_argument("--json", action="store_true", help="print a summary as JSON")
    m.set_defaults(func=cmd_simulate)


def cmd_simulate(args) -> int:
    from snnpipe.pipeline import backends
    from snnpipe.pipeline.backends.artifacts import graded_input, input_layout, load
    from snnpipe.pipeline.formats.spikes import load_raster, save_result

    compiled = load(args.network, read_options(args))
    channels, shape, dt_ms = input_layout(compiled)
    raster = load_raster(args.input, channels=channels, shape=shape, dt_ms=dt_ms,
                         signed=graded_input(compiled))
    result = backends.run(compiled, args.backend, raster, record=args.record)
    squeeze = not str(args.input).endswith(".npy") or str(args.input).endswith(".events.npy") \
        or np.load(args.input, mmap_mode="r").ndim == 2        # keep the input's leading shape
    pick = (lambda a: a[0]) if squeeze else (lambda a: a)
    states = result.states()
    save_result(args.output, pick(result.output), backend=result.name,
                t_offset=result.t_offset, states={k: pick(v) for k, v in states.items()})
    summary = {"output": str(args.output), "backend": result.name, "t_offset": result.t_offset,
               "shape": list(pick(result.output).shape),
               "sum_abs": int(np.abs(result.output).sum()), "states": sorted(states)}
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(f"{result.name}: output {tuple(summary['shape'])}, sum |output| "
              f"{summary['sum_abs']}, t_offset {result.t_offset}; wrote {args.output}")
    return EXIT_OK


def add_verify(sub, parent) -> None:
    v = sub.add_parser("verify", parents=[parent, file_options()],
                       help="run every implementation of a target on the same input and compare",
                       description="Run the same inputs through torch (in the target's integer "
                                   "precision), Lava fixed point and the target's integer "
                                   "simulator (xylosim too for xylo); report per population "
                                   "whether spikes and states agree and the first divergence. "
                                   "Exit 0 when all agree, 1 when not, 2 on bad input.")
    v.add_argument("file", metavar="NET.h5|NET.nir")
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
    v.add_argument("--reference", metavar="BACKEND",
                   help="the implementation the others are compared with: netx (lava-dl's own "
                        "netx on Lava fixed point; the default for files lava-dl wrote), "
                        "torch-loihi, lava-fixed, intsim-loihi; torch-xylo ... for xylo")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.set_defaults(func=cmd_verify)


def cmd_verify(args) -> int:
    from snnpipe.pipeline.backends.artifacts import graded_input
    from snnpipe.pipeline.formats.network_file import load
    from snnpipe.pipeline.formats.spikes import load_raster
    from snnpipe.pipeline.verify.chain import random_inputs, verify

    g = load(args.file, read_options(args))
    if args.input:
        ins = g.graph["inputs"]
        width = sum(int(np.prod(g.nodes[n]["shape"])) for n in ins)
        inputs = load_raster(args.input, channels=width,
                             shape=g.nodes[ins[0]]["shape"] if len(ins) == 1 else None,
                             dt_ms=float(g.graph.get("dt", 1e-3)) * 1e3, signed=graded_input(g))
    else:
        inputs = random_inputs(g, args.random, args.seed, steps=args.steps)
    recipe = recipe_of(args.file)
    mapping = {}
    if recipe:
        from snnpipe.models.recipes import registry

        mapping = registry.mappings(recipe, args.file).get(args.target, {})
    report = verify(g, args.target, inputs, mapping=mapping, reference=args.reference)
    out = report.to_dict()
    if recipe:
        out["trained"] = _trained_view(recipe, args.file, args.target, inputs, mapping)
    if recipe and args.metric_samples > 0:
        out["metric"] = _recipe_metric(recipe, args.file, args.target, args.metric_samples,
                                       args.seed)
    if args.json:
        print(json.dumps(out, indent=1, default=str))
    else:
        print(report.text())
        if "trained" in out:
            t = out["trained"]
            for key, n in t["differing"].items():
                print(f"trained model (the checkpoint, {t['precision']} precision) vs {key} on "
                      f"these inputs: {n} of {t['values']} output values differ")
            print("\n".join(f"  mapping: {line}" for line in t["mapping"]))
        if "metric" in out:
            from snnpipe.pipeline.report.stats import entry_line

            m = out["metric"]
            print(f"recipe {recipe}, {m['after']['n']} held-out samples:")
            print("  " + entry_line("torch", m["before"]))
            print("  " + entry_line(m["backend"], m["after"]))
    return EXIT_OK if report.ok else EXIT_FAILED


def _trained_view(recipe: str, path, target: str, inputs, mapping: dict) -> dict:
    """The trained model (the checkpoint beside the file) against the target's deployment on
    the verification inputs: output values that differ, aligned as the recipe evaluates, and
    what the mapping step changed (quantisation errors, time constants, clipped values)."""
    import torch

    from snnpipe.models.recipes import common, evaluation, registry
    from snnpipe.pipeline.backends.artifacts import compile as compile_for
    from snnpipe.pipeline.formats.hdf5 import load

    r = registry.get(recipe)
    x = torch.as_tensor(np.concatenate(list(inputs.values()), 1) if isinstance(inputs, dict)
                        else np.asarray(inputs)).float()
    x = x[None] if x.dim() == 2 else x
    keys = {"lava": ["lava-fixed"], "loihi": ["intsim/loihi", "lava-fixed"],
            "xylo": ["intsim/xylo"]}[target]
    ref = evaluation.outputs(r, path, "torch", x)
    differing = {k: int(np.sum(evaluation.outputs(r, path, k, x) != ref)) for k in keys}
    trained = common.run_config(path, recipe, {"precision": "float"})["precision"]
    lines = []
    if target in ("loihi", "xylo"):
        c = compile_for(load(path), target, **mapping)
        if target == "xylo":
            q = c.report
            lines += [f"weights {edge}: {loss:.2%} L2 error, {n} clipped"
                      for edge, (loss, n) in q.weight_loss.items()]
            lines += [f"time constant {node}.{state}: {tau * 1e3:.3g} ms -> {eff * 1e3:.3g} ms"
                      for (node, state), (_, tau, eff) in q.tau.items()
                      if abs(eff - tau) > 1e-9 * max(tau, 1e-12)]
            lines += [f"clipped {name}: {n}" for name, n in q.clipped.items()]
        else:
            q = c.artifact.quant
            lines += [f"weights {p['src']} -> {p['dst']}: max error {p['max_abs_error']:.3g}, "
                      f"{p['n_clipped']} clipped" for p in q["projections"]]
            lines += [f"population {p['name']}: threshold error {p['threshold_error']:.3g}, "
                      f"decay error {p['decay_error']:.3g}, bias error {p['bias_error']:.3g}"
                      for p in q["populations"]]
    return {"precision": trained, "values": int(ref.size), "differing": differing,
            "mapping": lines}


def _recipe_metric(recipe: str, path, target: str, n: int, seed: int) -> dict:
    """The recipe's metric on torch and on the target's deployment, on the same ``n`` samples,
    with the paired view (predictions that changed)."""
    from snnpipe.models.recipes.evaluation import evaluate

    key = "lava-fixed" if target == "lava" else f"intsim/{target}"
    scores = evaluate(recipe, path, ("torch", key), n, seed)
    return {"n": n, "backend": key, "before": scores["torch"], "after": scores[key]}
