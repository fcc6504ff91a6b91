"""The recipes by name, with the uniform API the command line uses.

Every recipe module exposes ``NAME``, ``DEFAULT_EPOCHS``, ``DEFAULTS`` (its settings, each
overridable as a keyword of ``train``), ``TARGETS`` (targets of its integer simulator, the first
is the default), ``DEPLOY`` (the ``(backend, target)`` pairs it is checked on), ``build(config)``,
``train(out_dir, epochs, seed, device, precision, progress, **overrides) -> dict``, and for
the evaluation (:mod:`snnpipe.models.recipes.evaluation`) ``test_set(config, n, seed)``,
``score(config, out, data)``, ``plot(config, out, data, path, title)`` and ``PLOT``.
"""
from __future__ import annotations

from snnpipe.models.recipes import chirp, ipd, oxford, synnet, wavesense
from snnpipe.pipeline.ir.errors import SnnpipeError

RECIPES = {m.NAME: m for m in (oxford, wavesense, synnet, chirp, ipd)}


def get(name: str):
    """The recipe module ``name``."""
    if name not in RECIPES:
        raise SnnpipeError("unknown recipe", field="recipe", expected=sorted(RECIPES), found=name)
    return RECIPES[name]


def default_precision(name: str) -> str:
    """The precision a recipe trains in when none is given (``loihi`` for oxford, else float)."""
    return getattr(get(name), "DEFAULT_PRECISION", "float")


def train(name: str, out_dir, epochs: int | None = None, seed: int = 0, device: str = "cpu",
          precision: str | None = None, progress: bool = True, **overrides) -> dict:
    """Train recipe ``name`` into ``out_dir``; ``epochs`` None: its ``DEFAULT_EPOCHS``;
    ``precision`` None: :func:`default_precision`. Returns its metrics and file paths."""
    from snnpipe.models.recipes.common import PRECISIONS

    precision = precision or default_precision(name)
    if precision not in PRECISIONS:
        raise SnnpipeError("unknown precision", field="precision", expected=PRECISIONS,
                           found=precision)
    return get(name).train(out_dir, epochs=epochs, seed=seed, device=device,
                           precision=precision, progress=progress, **overrides)


def key_of(backend: str, target: str | None) -> str:
    """The implementation key (:data:`snnpipe.models.recipes.evaluation.KEYS`) of a backend
    and target: ``torch``, ``lava-fixed``, ``xylosim`` or ``intsim/<target>``."""
    return f"intsim/{target}" if backend == "intsim" else backend


def evaluate(name: str, path, backend: str = "torch", target: str | None = None, seed: int = 0,
             n: int | None = None, plots_dir=None) -> dict:
    """The recipe's metrics for the run at ``path`` (run folder, ``.pt``, ``.h5`` or a target's
    ``config.json``) on ``backend`` (``intsim`` with ``target``), on ``n`` held-out samples
    (default the whole held-out set), with intervals and the paired view against the trained
    model (:func:`snnpipe.models.recipes.evaluation.evaluate`). Task settings come from the
    run's checkpoint; a bare ``config.json`` is evaluated with the recipe's ``DEFAULTS``."""
    from snnpipe.models.recipes.evaluation import evaluate as score

    if backend == "intsim" and target is None:
        target = _config_target(path, name) or get(name).TARGETS[0]
    key = key_of(backend, target)
    entry = score(name, path, (key,), n, seed, plots_dir=plots_dir)[key]
    return {"backend": backend, "target": target, **entry}


def _config_target(path, name: str) -> str | None:
    """The target of the run at ``path`` when it is a saved configuration, else None."""
    from snnpipe.hwmap.mappers.configio import load_config
    from snnpipe.models.recipes import common

    config = common.resolve(path, name)["config"]
    return None if config is None else load_config(config)[0]


def deploy(name: str, path, seed: int = 0, n: int | None = None) -> dict:
    """The metrics of torch and of every deployment of the recipe (``DEPLOY``) on the same
    held-out samples: ``{"torch": entry, "lava-fixed": ..., "intsim/loihi": ..., ...}``."""
    from snnpipe.models.recipes.evaluation import evaluate as score

    keys = ["torch"] + [key_of(b, t) for b, t in get(name).DEPLOY]
    return score(name, path, keys, n, seed)


def mappings(name: str, path) -> dict:
    """Mapper keyword arguments per target with which the run at ``path`` is deployed, as
    :func:`evaluate` maps it: a recipe larger than Xylo Audio 2 gets its widened limits
    (``XYLO_LIMITS_ARGS``), a run trained in the ``xylo`` precision its state scale.
    Returns ``{target: kwargs}`` for the targets that need any."""
    from snnpipe.models.recipes import common

    recipe = get(name)
    xylo = {}
    if getattr(recipe, "XYLO_LIMITS_ARGS", None):
        xylo["limits"] = common.wide_xylo(*recipe.XYLO_LIMITS_ARGS)
    if common.run_config(path, name, {"precision": "float"})["precision"] == "xylo":
        xylo.update(common.XYLO_TRAINED)
    return {"xylo": xylo} if xylo else {}


def test_inputs(name: str, n: int, seed: int = 0):
    """``n`` held-out inputs (n, channels, steps) of recipe ``name``, drawn as its ``evaluate``
    draws ``n`` samples, or None when the recipe's test input depends on the run's
    settings (chirp, oxford)."""
    fn = getattr(get(name), "test_inputs", None)
    return None if fn is None else fn(n, seed)


def implementations(name: str, path, targets) -> list:
    """The implementations that show a deployment to ``targets`` (lava | loihi | xylo): torch,
    torch in each target's precision, the targets' integer simulators, and their slow
    references (Lava fixed point, xylosim) on a checked subset."""
    from snnpipe.models.recipes import common

    trained = common.run_config(path, name, {"precision": default_precision(name)})["precision"]
    keys = ["torch"]
    for t in ("loihi", "xylo"):
        if t in targets:
            keys += ([f"torch/{t}"] if trained != t else []) + [f"intsim/{t}"]
    keys += ["lava-fixed"] if "lava" in targets else []
    keys += ["xylosim"] if "xylo" in targets else []
    return keys


def deployment_metrics(name: str, path, targets, n: int | None = None, seed: int = 0,
                       plots_dir=None) -> dict:
    """The recipe's metrics on :func:`implementations` of ``targets``, on the same ``n``
    held-out samples (default the whole held-out set); ``plots_dir``: the recipe's plot per
    implementation there. Returns ``{key: entry}``."""
    from snnpipe.models.recipes.evaluation import evaluate as score

    return score(name, path, implementations(name, path, targets), n, seed, plots_dir=plots_dir)
