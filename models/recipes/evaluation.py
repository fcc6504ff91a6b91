"""A trained run scored on its recipe's whole held-out set, on every implementation, with the
statistics that say what a deployment changed.

Implementations (keys): ``torch`` (the checkpoint's model in its training precision),
``torch/<precision>`` (the same weights in another precision: ``float``, ``loihi``, ``xylo``),
``intsim/loihi`` and ``intsim/xylo`` (the integer simulators, batched over the whole set), and
the two slow references, ``lava-fixed`` and ``xylosim``, which run one sample at a time: they
run on the first ``check`` samples, and where their outputs equal the integer simulator's
sample for sample (:data:`CHECKED`), the simulator's score on the whole set stands for theirs
(the entry says so: ``checked``); where they do not, their own score on the subset is given.

Each entry holds the recipe's metrics and ``n``, ``ci`` (95 % intervals: Wilson for an
accuracy, a seeded bootstrap for per-sample values such as an angle error), and for every
implementation but the reference its ``paired`` view against the trained model on the same
samples (predictions changed, in which direction, exact McNemar, per class; the number of
output values that differ: spike counts, or a readout's v in float units).
"""
from __future__ import annotations

import numpy as np
import torch

from snnpipe.models.recipes import common
from snnpipe.pipeline.ir.errors import SnnpipeError
from snnpipe.pipeline.report.stats import bootstrap, paired, wilson

CHECKED = {"lava-fixed": "intsim/loihi", "xylosim": "intsim/xylo"}
KEYS = ("torch", "torch/float", "torch/loihi", "torch/xylo", "intsim/loihi", "intsim/xylo",
        "lava-fixed", "xylosim")
CHECK_SAMPLES = 16


def outputs(recipe, path, key: str, x: torch.Tensor) -> np.ndarray:
    """The first output (n, out, steps) float64 of the run at ``path`` on implementation
    ``key`` (:data:`KEYS`), aligned with the trained torch model."""
    if key.startswith("torch"):
        precision = key.partition("/")[2]
        build = recipe.build if not precision else \
            (lambda c: recipe.build(dict(c, precision=precision)))
        return common.run_backend(path, recipe.NAME, build, x, "torch", "")
    backend, target = ("intsim", key.partition("/")[2]) if key.startswith("intsim") else \
        (key, "xylo" if key == "xylosim" else "loihi")
    limits = getattr(recipe, "XYLO_LIMITS_ARGS", None)
    return common.run_backend(path, recipe.NAME, recipe.build, x, backend, target,
                              state=getattr(recipe, "XYLO_STATE", "auto") if target == "xylo"
                              else "auto",
                              xylo_limits=common.wide_xylo(*limits) if limits else None)


def _entry(recipe, config, key: str, out: np.ndarray, data: dict, seed: int) -> dict:
    """Metrics, n and intervals of ``out`` on ``data``."""
    scored = recipe.score(config, out, data)
    n = len(out)
    entry = {"n": n, **scored["metrics"], "ci": {}}
    if "accuracy" in scored["metrics"] and scored["labels"] is not None:
        k = int(np.sum(scored["predictions"] == scored["labels"]))
        entry["ci"]["accuracy"] = list(wilson(k, n))
    for name, values in scored["values"].items():
        entry["ci"][name] = list(bootstrap(values, seed=seed))
    return entry, scored


def _paired(ref: tuple, mine: tuple) -> dict:
    """The paired view of an implementation (``(out, scored)``) against the reference's."""
    (ref_out, ref_scored), (out, scored) = ref, mine
    view = {}
    if scored["predictions"] is not None and ref_scored["predictions"] is not None:
        m = len(out)
        view = paired(ref_scored["predictions"][:m], scored["predictions"], scored["labels"])
    if ref_out[:len(out)].shape == out.shape:
        view["differing_outputs"] = int(np.sum(ref_out[:len(out)] != out))
    return view


def evaluate(name: str, path, keys=("torch",), n: int | None = None, seed: int = 0,
             check: int = CHECK_SAMPLES, plots_dir=None) -> dict:
    """The recipe ``name``'s metrics for the run at ``path`` (run folder, ``.pt``, ``.h5`` or
    ``config.json``) on each implementation of ``keys``, on ``n`` held-out samples (default:
    the whole held-out set, ``n_test``). ``plots_dir``: the recipe's plot per implementation
    there. Returns ``{key: entry}`` (module docstring)."""
    from snnpipe.models.recipes import registry

    recipe = registry.get(name)
    unknown = [k for k in keys if k not in KEYS]
    if unknown:
        raise SnnpipeError("unknown implementation", field="backend", expected=KEYS, found=unknown)
    config = common.run_config(path, name, recipe.DEFAULTS)
    data = recipe.test_set(config, n, seed)
    x = data["x"]
    has_torch = common.resolve(path, name)["checkpoint"] is not None
    runs, result = {}, {}

    def run(key, samples=None):
        if key not in runs:
            out = outputs(recipe, path, key, x if samples is None else x[:samples])
            runs[key] = (out, *_entry(recipe, config, key, out, _head(data, len(out)), seed))
        return runs[key]

    ref = run("torch") if has_torch else None
    for key in keys:
        if key in CHECKED:
            k = min(check, len(x))
            base_out = run(CHECKED[key])[0]
            own = run(key, k)
            equal = int(sum(np.array_equal(a, b) for a, b in zip(own[0], base_out[:k])))
            if equal == k:
                out, entry, scored = run(CHECKED[key])
                entry = dict(entry, checked={"against": CHECKED[key], "samples": k, "equal": k})
            else:
                out, entry, scored = own
                entry = dict(entry, checked={"against": CHECKED[key], "samples": k, "equal": equal})
        else:
            out, entry, scored = run(key)
        if ref is not None and key != "torch":
            entry = dict(entry, paired=_paired((ref[0], ref[2]), (out, scored)))
        result[key] = entry
        if plots_dir is not None:
            recipe.plot(config, out, _head(data, len(out)),
                        f"{plots_dir}/{recipe.PLOT}_{key.replace('/', '_')}.png", key)
    return result


def _head(data: dict, m: int) -> dict:
    """The first ``m`` samples of a test set (arrays of length n; a single-sample set whole)."""
    return {k: v[:m] if hasattr(v, "__len__") and len(v) == len(data["x"]) else v
            for k, v in data.items()}
