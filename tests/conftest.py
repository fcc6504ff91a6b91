"""Shared test set-up.

Tests that need lava-nc / lava-dl / xylosim (Python 3.10 only) skip with a reason where those
are not installed; under CI (``CI=true``) a missing reference is an error instead, so that CI
always runs every test.
"""
import importlib.util
import os

import pytest

REFERENCES = {"lava": "lava-nc 0.10.0 (Python 3.10 only; the lava extra)",
              "xylosim": "xylosim 0.1.3 (cp310 wheel; the test extra)",
              "snntorch": "snntorch 1.0.0 (the interop extra)",
              "norse": "norse 1.1.0 (the interop extra)",
              "rockpool": "rockpool 3.1.0 (the interop extra)",
              "sinabs": "sinabs 3.1.3 (make setup: pip install --no-deps sinabs==3.1.3)"}


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER"):    # two workers on two cores: one thread each
        import torch

        torch.set_num_threads(1)
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        missing = [desc for mod, desc in REFERENCES.items() if not available(mod)]
        if missing:
            raise pytest.UsageError("CI must run every test, but these references are missing: "
                                    + "; ".join(missing) + ". Run `make test` (it installs them).")


def pytest_collection_modifyitems(config, items):
    if available("lava"):
        return
    skip = pytest.mark.skip(reason="needs " + REFERENCES["lava"])
    for item in items:
        if "lava" in item.keywords:
            item.add_marker(skip)
