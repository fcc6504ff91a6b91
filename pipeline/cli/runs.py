"""Commands on the reference workflows: ``train``, ``evaluate``, ``demo`` and ``report``."""
from __future__ import annotations

import json
from pathlib import Path

from snnpipe.pipeline.cli.common import (EXIT_FAILED, EXIT_OK, RECIPES, file_options, print_metrics,
                                         read_options, recipe_of)


def add_train(sub, parent) -> None:
    t = sub.add_parser("train", parents=[parent], help="train a recipe (a reference workflow)",
                       description="Train one of the five reference workflows and write its "
                                   "checkpoint, HDF5 export, stats CSV and plots into DIR "
                                   "(default out/RECIPE).")
    t.add_argument("recipe", choices=RECIPES)
    t.add_argument("-o", "--output", metavar="DIR")
    t.add_argument("--epochs", type=int, help="default: the recipe's (a few minutes on 2 CPU cores)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    t.add_argument("--precision", choices=("float", "loihi", "xylo"),
                   help="train in a target's integer precision (quantisation-aware)")
    t.add_argument("--json", action="store_true", help="print the metrics as JSON")
    t.add_argument("--quiet", action="store_true", help="no progress lines, only the result")
    t.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    from snnpipe.models.recipes import registry

    out = args.output or str(Path("out") / args.recipe)
    result = registry.train(args.recipe, out, epochs=args.epochs, seed=args.seed,
                            device=args.device, precision=args.precision,
                            progress=not (args.json or args.quiet))
    print_metrics(result, args.json)
    return EXIT_OK


def add_evaluate(sub, parent) -> None:
    e = sub.add_parser("evaluate", parents=[parent],
                       help="a recipe's metric on its held-out set for one implementation",
                       description="The recipe's metrics on its whole held-out set (or -n "
                                   "samples) for a trained run (DIR, .pt or .h5) or a target's "
                                   "config.json, on torch, the target's integer simulator, "
                                   "xylosim or Lava fixed point (these two on a subset checked "
                                   "against the simulator), with 95 % intervals and the "
                                   "predictions that changed against the trained model.")
    e.add_argument("recipe", choices=RECIPES)
    e.add_argument("path", metavar="RUN|NET.h5|config.json")
    e.add_argument("--backend", default="torch",
                   choices=("torch", "lava-fixed", "intsim", "xylosim"))
    e.add_argument("--target", choices=("loihi", "xylo"), help="the integer simulator's target")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("-n", type=int, help="number of test samples (default: the whole held-out set)")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")
    e.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args) -> int:
    from snnpipe.models.recipes import registry

    from snnpipe.pipeline.report.stats import entry_line

    result = registry.evaluate(args.recipe, args.path, backend=args.backend, target=args.target,
                               seed=args.seed, n=args.n)
    if args.json:
        print(json.dumps(result, indent=1, default=str))
    else:
        print(entry_line(registry.key_of(result["backend"], result["target"]), result))
    return EXIT_OK


def add_demo(sub, parent) -> None:
    dm = sub.add_parser("demo", parents=[parent], help="the main job: train, deploy, verify, report",
                        description="Train a recipe (default ipd) in float and quantisation-aware "
                                    "for Xylo, export, validate, compile for Lava and both "
                                    "targets, simulate, verify, and write OUT/report.html with "
                                    "the plots. Exit 1 when a verification fails.")
    dm.add_argument("-o", "--output", default="out/demo", metavar="OUT")
    dm.add_argument("--recipe", default="ipd", choices=RECIPES)
    dm.add_argument("--epochs", type=int, help="training epochs of each network (default 6)")
    dm.add_argument("--samples", type=int,
                    help="held-out samples of the metric on every implementation (default: "
                         "the whole held-out set)")
    dm.add_argument("--seed", type=int, default=0)
    dm.add_argument("--quick", action="store_true",
                    help="tiny data and one epoch (for tests); --epochs and --samples still apply")
    dm.add_argument("--json", action="store_true", help="print the result as JSON")
    dm.add_argument("--quiet", action="store_true", help="no progress lines, only the summary")
    dm.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from snnpipe.models.recipes.demo import run

    result = run(args.output, recipe=args.recipe, epochs=args.epochs, seed=args.seed,
                 n_eval=args.samples, quick=args.quick, progress=not (args.json or args.quiet))
    if args.json:
        print(json.dumps(result, indent=1, default=str))
    else:
        print("\n".join(result["summary"]))
    return EXIT_OK if result["verified"] else EXIT_FAILED


def add_report(sub, parent) -> None:
    r = sub.add_parser("report", parents=[parent, file_options()],
                       help="the HTML report of trained networks",
                       description="Write DIR/report.html for a run folder (a network <name>.h5, "
                                   "with what training and deployment left there) or a folder "
                                   "of run folders: compiles for each target, simulates a "
                                   "sample, verifies and plots where that is not done yet. A "
                                   "NIR file NAME.nir is read (--dt, --producer) and written "
                                   "beside it as NAME.h5, whose folder is then reported.")
    r.add_argument("dir", metavar="DIR|NET.h5|NET.nir")
    r.add_argument("-o", "--output", metavar="HTML", help="default DIR/report.html")
    r.add_argument("--no-compute", action="store_true",
                   help="only show what is in DIR (no compiling, simulating or verifying)")
    r.add_argument("--samples", type=int,
                   help="a recipe's run: held-out samples of its metric on each implementation "
                        "(default: the whole held-out set)")
    r.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    from snnpipe.pipeline.formats.network_file import is_nir, load, save
    from snnpipe.pipeline.report.page import build, run_folders

    if Path(args.dir).is_file() and is_nir(args.dir):   # the run folder's network, as HDF5
        h5 = Path(args.dir).with_suffix(".h5")
        save(load(args.dir, read_options(args)), h5)
        print(f"wrote {h5} (read from {args.dir})")
        args.dir = str(h5)
    if not args.no_compute:                        # a recipe's run: its metric on each target
        for folder in run_folders(args.dir):
            _deployment_metrics(folder, args.samples)
    path = build(args.dir, args.output, compute=not args.no_compute, mappings=_recipe_mappings)
    print(f"wrote {path}")
    return EXIT_OK


def _recipe_mappings(network) -> dict:
    """A recipe's run deploys as it evaluates (its mapper options per target)."""
    recipe = recipe_of(network)
    if recipe is None:
        return {}
    from snnpipe.models.recipes import registry

    return registry.mappings(recipe, network)


def _deployment_metrics(folder, samples: int) -> None:
    """``deployment.json`` of a recipe's run folder: its metric on torch and each target
    (made again when the network changed)."""
    from snnpipe.models.recipes import registry
    from snnpipe.pipeline.ir.atomic import write_text_atomic
    from snnpipe.pipeline.report.data import deploy_all, network_file, refresh

    net = network_file(folder)
    recipe = recipe_of(net)
    if recipe is None or (refresh(folder, net) and (folder / "deployment.json").exists()):
        return
    dep = deploy_all(net, folder, mappings=_recipe_mappings(net))
    metrics = registry.deployment_metrics(
        recipe, net, [t for t, d in dep.items() if not d["error"]], samples, plots_dir=folder)
    write_text_atomic(folder / "deployment.json", json.dumps(metrics, indent=1) + "\n")
