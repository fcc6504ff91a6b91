"""The architecture is a contract: the layers of pyproject.toml's import-linter contracts hold,
modules stay small, every import goes through the one root ``snnpipe``, no module reaches
into another's private names, and nothing hides an import behind a module ``__getattr__``."""
import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FLOORS = ("models", "pipeline", "processes", "hwmap")
MAX_LINES = 400


def _package_modules() -> list[Path]:
    return sorted(p for floor in FLOORS for p in (REPO / floor).rglob("*.py")) + [REPO / "__init__.py"]


def _our_python() -> list[Path]:
    return _package_modules() + sorted((REPO / "tests").rglob("*.py")) + sorted((REPO / "bench").rglob("*.py"))


def test_the_import_linter_contracts_hold(monkeypatch, capsys):
    from importlinter.cli import lint_imports

    monkeypatch.chdir(REPO)
    code = lint_imports(no_cache=True, no_logo=True)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "0 broken" in out and "5 kept" in out, out


def test_no_module_is_longer_than_400_lines():
    long = {str(p.relative_to(REPO)): n for p in _package_modules()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


@pytest.mark.parametrize("path", _our_python(), ids=lambda p: str(p.relative_to(REPO)))
def test_imports_go_through_snnpipe_and_never_to_private_names(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module.startswith("snnpipe."):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"line {node.lineno}: private names {private} of {node.module}"
        else:
            continue
        bare = [n for n in names if n.split(".")[0] in FLOORS]
        assert not bare, f"line {node.lineno}: import {bare} (write snnpipe.{bare[0]})"


@pytest.mark.parametrize("path", _package_modules(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_module_hides_imports_behind_getattr(path):
    tree = ast.parse(path.read_text())
    assert not [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "__getattr__"]
    assert not re.search(r"import_module\(f?[\"']snnpipe", path.read_text())


def test_every_package_folder_is_listed_for_the_wheel():
    text = (REPO / "pyproject.toml").read_text()
    listed = set(re.findall(r'^\s*"(snnpipe(?:\.\w+)*)",$', text, re.M))
    found = {"snnpipe"} | {"snnpipe." + ".".join(p.parent.relative_to(REPO).parts)
                           for floor in FLOORS for p in (REPO / floor).rglob("__init__.py")}
    assert listed == found, (sorted(found - listed), sorted(listed - found))


def test_tests_are_not_a_package():
    """lava-nc installs a top-level ``tests`` package: ours must not compete with it."""
    assert not list((REPO / "tests").rglob("__init__.py"))
