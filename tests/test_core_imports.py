"""The core (models, pipeline, hwmap) imports and the CLI answers without lava installed."""
import subprocess
import sys
import textwrap


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


def test_every_core_module_imports_with_lava_unimportable():
    r = _run("""
        import importlib, pkgutil, sys
        sys.modules["lava"] = None          # any `import lava...` now raises ImportError
        from snnpipe import models, pipeline, hwmap
        names = []
        for pkg in (models, pipeline, hwmap):
            for info in pkg.walk_packages(pkg.__path__, pkg.__name__ + ".") if False else \
                    pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
                importlib.import_module(info.name)
                names.append(info.name)
        assert "snnpipe.pipeline.cli.main" in names and "snnpipe.pipeline.ir.graph" in names, names
        assert not any(m == "lava" or m.startswith("lava.") for m in sys.modules if sys.modules[m]), \
            sorted(m for m in sys.modules if m.startswith("lava"))
        print(len(names), "modules")
    """)
    assert r.returncode == 0, r.stderr
    assert "modules" in r.stdout


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
