"""The recipes by name, with the uniform API the command line uses.

Every recipe module exposes ``NAME``, ``DEFAULT_EPOCHS``, ``DEFAULTS`` (its settings, each
overridable as a keyword of ``train``), ``TARGETS`` (targets of its integer simulator, the first
is the default), ``DEPLOY`` (the ``(backend, target)`` pairs it is checked on), ``build(config)``,
``train(out_dir, epochs, seed, device, precision, progress, **overrides) -> dict`` and
``evaluate(path, backend, target, seed, n, plots_dir) -> dict``.
"""
from __future__ import annotations

from snnpipe.models.recipes import chirp, ipd, oxford, synnet, wavesense
from snnpipe.pipeline.ir.errors import SnnpipeError

RECIPES = {m.NAME: m for m in (oxford, wavesense, synnet, chirp, ipd)}
LAVA_SAMPLES = 32      # default number of test samples on Lava (it runs one sample at a time)


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


def evaluate(name: str, path, backend: str = "torch", target: str | None = None, seed: int = 0,
             n: int | None = None, plots_dir=None) -> dict:
    """The recipe's metric for the run at ``path`` (run folder, ``.pt``, ``.h5`` or a target's
    ``config.json``) on ``backend``; ``n`` test samples (Lava: :data:`LAVA_SAMPLES` unless
    given). Task settings come from the run's checkpoint; a bare ``config.json`` is evaluated
    with the recipe's ``DEFAULTS``."""
    if backend == "lava-fixed" and n is None:
        n = LAVA_SAMPLES
    return get(name).evaluate(path, backend=backend, target=target, seed=seed, n=n,
                              plots_dir=plots_dir)


def deploy(name: str, path, seed: int = 0, n: int | None = None) -> dict:
    """Evaluate on torch and on every deployment backend of the recipe (``DEPLOY``), each on
    the same test samples (Lava's count limits all of them when Lava is among them).
    Returns ``{"torch": metrics, "lava-fixed": ..., "intsim/loihi": ..., ...}``."""
    recipe = get(name)
    if n is None and "n_test" in recipe.DEFAULTS and any(b == "lava-fixed" for b, _ in recipe.DEPLOY):
        n = LAVA_SAMPLES
    out = {"torch": evaluate(name, path, "torch", seed=seed, n=n)}
    for backend, target in recipe.DEPLOY:
        key = backend if target is None else f"{backend}/{target}"
        out[key] = evaluate(name, path, backend, target, seed=seed, n=n)
    return out


def mappings(name: str, path) -> dict:
    """Mapper keyword arguments per target with which the run at ``path`` is deployed, as
    :func:`evaluate` maps it: a recipe larger than Xylo Audio 2 gets its widened limits
    (``XYLO_LIMITS_ARGS``), a run trained in the ``xylo`` precision its state scale.
    Returns ``{target: kwargs}`` for the targets that need any."""
    from snnpipe.models.recipes import common
    from snnpipe.pipeline.formats.hdf5 import load

    recipe = get(name)
    xylo = {}
    if getattr(recipe, "XYLO_LIMITS_ARGS", None):
        xylo["limits"] = common.wide_xylo(*recipe.XYLO_LIMITS_ARGS)
    if common.run_config(path, name, {"precision": "float"})["precision"] == "xylo":
        xylo.update(common.xylo_headroom(load(common.resolve(path, name)["hdf5"])))
    return {"xylo": xylo} if xylo else {}


def test_inputs(name: str, n: int, seed: int = 0):
    """``n`` held-out inputs (n, channels, steps) of recipe ``name``, drawn as its ``evaluate``
    draws ``n`` samples, or None when the recipe's test input depends on the run's
    settings (chirp, oxford)."""
    fn = getattr(get(name), "test_inputs", None)
    return None if fn is None else fn(n, seed)


BACKEND_OF = {"lava": ("lava-fixed", None), "loihi": ("intsim", "loihi"), "xylo": ("intsim", "xylo")}


def deployment_metrics(name: str, path, targets, n: int, seed: int = 0, plots_dir=None) -> dict:
    """The recipe's metric on torch and on each of ``targets`` (lava | loihi | xylo), on the
    same ``n`` held-out samples; ``plots_dir``: confusion matrices per implementation there.
    Returns ``{"torch": metrics, "lava-fixed": ..., "intsim/loihi": ..., ...}``."""
    out = {"torch": evaluate(name, path, "torch", seed=seed, n=n, plots_dir=plots_dir)}
    for t in targets:
        backend, target = BACKEND_OF[t]
        key = backend if target is None else f"{backend}/{target}"
        out[key] = evaluate(name, path, backend, target, seed=seed, n=n, plots_dir=plots_dir)
    return out
