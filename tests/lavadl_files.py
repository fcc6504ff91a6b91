"""The network files lava-dl ships with its own netx tests (in the installed wheel, beside
``lava``: ``site-packages/tests/lava/lib/dl/netx/``), made by lava-dl, not by us."""
import importlib.util
from pathlib import Path

import pytest


def netx_dir() -> Path | None:
    """lava-dl's netx test folder, or None when lava-dl (or its test files) is not installed."""
    spec = importlib.util.find_spec("lava.lib.dl.netx")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parents[4] / "tests" / "lava" / "lib" / "dl" / "netx"
    return folder if folder.is_dir() else None


FILES = {"tiny": "tiny.net", "mnist": "mnist.net", "pilotnet_lif": "gts/pilotnet_lif/network.net",
         "pilotnet_sdnn": "gts/pilotnet_sdnn/network.net", "ntidigits": "gts/ntidigits/ntidigits.net"}


def path(name: str) -> Path:
    """The lava-dl file ``name`` (a key of FILES); skips the test when it is not installed."""
    folder = netx_dir()
    if folder is None or not (folder / FILES[name]).is_file():
        pytest.skip("lava-dl's netx test files are not installed")
    return folder / FILES[name]
