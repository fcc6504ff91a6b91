"""`snnpipe doctor`: one line per check, exit 0 when all pass, FAIL with a hint and exit 1 otherwise."""
import json
import subprocess
import sys

import pytest

from snnpipe.pipeline.cli.doctor import Check, as_json, format_checks, run_checks


def snnpipe(*args, preamble: str = "") -> subprocess.CompletedProcess:
    code = f"import sys\n{preamble}\nfrom snnpipe.pipeline.cli.main import main\nsys.exit(main({list(args)!r}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


@pytest.mark.lava
def test_doctor_passes_here_with_one_ok_check_each_in_json_and_in_text():
    r = snnpipe("doctor", "--json")                 # one run: it starts Lava twice
    report = json.loads(r.stdout)
    assert r.returncode == 0 and report["ok"] is True, r.stdout + r.stderr
    assert all(set(c) == {"name", "ok", "detail", "hint"} for c in report["checks"])
    lines = format_checks([Check(**c) for c in report["checks"]]).splitlines()
    for name in ("python", "torch", "numpy", "h5py", "networkx", "lava-nc", "lava-dl",
                 "lava fixed-point run", "lava float-point run"):
        assert any(line.startswith("ok") and f" {name} " in line + " " for line in lines), (name, lines)
    assert lines[-1] == "all checks passed"


def test_doctor_reports_missing_lava_as_fail_with_fix_and_exit_1():
    r = snnpipe("doctor", preamble='sys.modules["lava"] = None')
    assert r.returncode == 1, r.stdout + r.stderr
    fails = [line for line in r.stdout.splitlines() if line.startswith("FAIL")]
    assert any(" lava-nc " in line for line in fails) and any("lava fixed-point run" in line for line in fails)
    assert "fix: install the lava extra" in r.stdout
    assert r.stdout.splitlines()[-1].endswith("check(s) failed")


def test_a_check_that_raises_is_a_fail_not_a_crash():
    def check_broken():
        raise RuntimeError("disk on fire")

    results = run_checks((lambda: Check("fine", True, "1.0"), check_broken))
    assert [c.ok for c in results] == [True, False]
    assert results[1].name == "broken" and "disk on fire" in results[1].detail
    text = format_checks(results)
    assert "FAIL  broken" in text and "1 check(s) failed" in text
    assert as_json(results)["ok"] is False


def test_version_and_help():
    r = snnpipe("--version")
    assert r.returncode == 0 and r.stdout.startswith("snnpipe ")
    r = snnpipe("doctor", "--help")
    assert r.returncode == 0 and "--json" in r.stdout
