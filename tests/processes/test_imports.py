"""Lava stays out of the processes that do not run it."""
import subprocess
import sys

CODE = """
import sys
from snnpipe import models, pipeline, hwmap
import snnpipe.processes, snnpipe.processes.lowering, snnpipe.processes.params, snnpipe.processes.smoke
loaded = sorted(m for m in sys.modules if m == 'lava' or m.startswith('lava.'))
assert not loaded, loaded
"""


def test_pure_modules_do_not_import_lava():
    subprocess.run([sys.executable, "-c", CODE], check=True, timeout=120)
