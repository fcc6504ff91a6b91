"""`snnpipe doctor`: checks of the environment, one line each with ok/FAIL and a fix hint.

Each check is a small function returning a :class:`Check`; :func:`run_checks` runs a list of
them and never lets one check's exception stop the others.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import platform
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Callable


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str
    hint: str = ""


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def check_python() -> Check:
    v = platform.python_version()
    ok = sys.version_info[:2] == (3, 10)
    return Check("python", ok, f"{v} at {sys.executable}",
                 "" if ok else "lava-nc 0.10.0 imports on Python 3.10 only: use `make setup` "
                 "(it finds or asks for a 3.10 interpreter)")


def _import_check(name: str, module: str, dist: str, hint: str, extra: Callable | None = None) -> Check:
    try:
        # lava-dl prints warnings about optional datasets to stdout on import: keep them out
        # of the report (and of --json).
        with contextlib.redirect_stdout(io.StringIO()):
            mod = importlib.import_module(module)
    except Exception as e:  # noqa: BLE001 - any import failure is what the doctor reports
        return Check(name, False, f"cannot import {module}: {e!r}", hint)
    detail = _version(dist)
    if extra is not None:
        detail += extra(mod)
    return Check(name, True, detail)


def check_torch() -> Check:
    def cuda(torch):
        return f" (CUDA {'usable: ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'not usable: CPU only'})"

    return _import_check("torch", "torch", "torch", "pip install torch (make setup does)", cuda)


def check_numpy() -> Check:
    return _import_check("numpy", "numpy", "numpy", "pip install 'numpy<2' (make setup does)")


def check_h5py() -> Check:
    return _import_check("h5py", "h5py", "h5py", "pip install h5py (make setup does)")


def check_networkx() -> Check:
    return _import_check("networkx", "networkx", "networkx", "pip install 'networkx<=2.8.7'")


LAVA_HINT = "install the lava extra on Python 3.10: `make setup` or pip install -e '.[lava]'"


def check_lava_nc() -> Check:
    return _import_check("lava-nc", "lava.magma.core.run_configs", "lava-nc", LAVA_HINT)


def check_lava_dl() -> Check:
    return _import_check("lava-dl", "lava.lib.dl.slayer", "lava-dl", LAVA_HINT)


def _lava_run(precision: str) -> Check:
    name = f"lava {precision}-point run"
    try:
        from snnpipe.processes.smoke import three_neuron_check

        ok, detail = three_neuron_check(precision)
    except Exception as e:  # noqa: BLE001
        return Check(name, False, f"{type(e).__name__}: {e}", LAVA_HINT)
    return Check(name, ok, detail, "" if ok else "Lava ran but the spikes differ from the rule: "
                 "report this with `snnpipe doctor --json`")


def check_lava_fixed() -> Check:
    return _lava_run("fixed")


def check_lava_float() -> Check:
    return _lava_run("float")


DEFAULT_CHECKS = (check_python, check_torch, check_numpy, check_h5py, check_networkx,
                  check_lava_nc, check_lava_dl, check_lava_fixed, check_lava_float)


def run_checks(checks=DEFAULT_CHECKS) -> list[Check]:
    """Run every check; a check that raises is reported as FAIL with the exception."""
    out = []
    for fn in checks:
        try:
            out.append(fn())
        except Exception as e:  # noqa: BLE001
            out.append(Check(fn.__name__.removeprefix("check_"), False, f"{type(e).__name__}: {e}",
                             "unexpected failure of the check itself"))
    return out


def format_checks(results: list[Check]) -> str:
    """One line per check: ``ok   name  detail`` or ``FAIL name  detail -> hint``."""
    width = max(len(c.name) for c in results)
    lines = []
    for c in results:
        line = f"{'ok  ' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}"
        if not c.ok and c.hint:
            line += f"\n      fix: {c.hint}"
        lines.append(line)
    n_fail = sum(not c.ok for c in results)
    lines.append("all checks passed" if n_fail == 0 else f"{n_fail} check(s) failed")
    return "\n".join(lines)


def as_json(results: list[Check]) -> dict:
    """The report as a JSON-able dict: ``{"ok": bool, "checks": [...]}``."""
    return {"ok": all(c.ok for c in results), "checks": [asdict(c) for c in results]}
