"""How snnpipe installs and imports: one top-level package, importable next to a user's own
``models/`` and ``pipeline/`` folders, the core without Lava, and the README's script."""
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(code: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def test_the_wheel_holds_one_top_level_package_snnpipe(tmp_path):
    src = tmp_path / "src"                  # a copy: building leaves build/ beside the sources
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", "out", "build", "*.egg-info", "__pycache__", ".pytest_cache", "*.pt",
        "*.nbi", "*.nbc"))
    # the venv's own setuptools (the test extra pins the one pyproject builds with): no
    # isolated build environment to make
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(tmp_path), str(src)], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    (wheel,) = tmp_path.glob("snnpipe-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"snnpipe"}, tops
    for module in ("snnpipe/__init__.py", "snnpipe/models/neurons/registry.py",
                   "snnpipe/pipeline/backends/base.py", "snnpipe/processes/compile.py",
                   "snnpipe/hwmap/targets/loihi.py"):
        assert module in names
    assert not [n for n in names if n.startswith(("snnpipe/tests/", "snnpipe/bench/"))]


def test_every_core_module_imports_beside_a_users_own_folders_and_without_lava(tmp_path):
    """From a folder holding a user's own models/, pipeline/, ... packages (that fail to
    import), with lava made unimportable: every module of the core imports, none of lava."""
    for name in ("models", "pipeline", "hwmap", "processes", "tests"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('the user\\'s {name}')\n")
    r = _run("""
        import importlib, pkgutil, sys
        sys.modules["lava"] = None          # any `import lava...` now raises ImportError
        import snnpipe
        from snnpipe import models, pipeline, hwmap
        names = []
        for pkg in (models, pipeline, hwmap):
            for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
                importlib.import_module(info.name)
                names.append(info.name)
        assert "snnpipe.pipeline.cli.main" in names and "snnpipe.pipeline.ir.graph" in names
        assert not any(m == "lava" or m.startswith("lava.") for m in sys.modules if sys.modules[m])
        assert not any(m.split(".")[0] in ("models", "pipeline", "hwmap", "processes")
                       for m in sys.modules)
        print(len(names), "modules;", sorted(snnpipe.backends()))
    """, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "modules;" in r.stdout and "intsim-loihi" in r.stdout


def test_cli_help_works_without_lava():
    r = _run("""
        import sys
        sys.modules["lava"] = None
        from snnpipe.pipeline.cli.main import main
        sys.argv = ["snnpipe", "--help"]
        main()
    """)
    assert r.returncode == 0, r.stderr
    assert "usage: snnpipe" in r.stdout and "doctor" in r.stdout


@pytest.mark.lava
def test_the_readmes_script_runs(tmp_path):
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Scripting"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 12, "the README promises a ten-line script"
    r = _run(code, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "True", r.stdout
