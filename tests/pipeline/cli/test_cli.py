"""The snnpipe command line: exit 0 success, 1 problems found, 2 bad input with a one-line message."""
import json

import h5py
import numpy as np
import pytest

from snnpipe.pipeline.cli.main import main
from snnpipe.pipeline.formats.hdf5 import export
import zoo


@pytest.fixture
def net(tmp_path):
    path = tmp_path / "net.h5"
    export(zoo.sequential_dense(0), path)
    return path


def test_inspect_prints_the_summary_and_verdict(net, capsys):
    assert main(["inspect", str(net)]) == 0
    out = capsys.readouterr().out
    assert "h1" in out and "dense w(12, 8)" in out and out.strip().endswith("validation: valid")


def test_inspect_json(net, capsys):
    assert main(["inspect", str(net), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True and report["problems"] == []
    assert [n["id"] for n in report["graph"]["nodes"]][:1] == ["input"] or report["graph"]["inputs"]
    assert {e["op"] for e in report["graph"]["edges"]} == {"dense"}


def test_inspect_of_a_graph_with_problems_exits_1_and_lists_them(net, capsys):
    with h5py.File(net, "r+") as f:          # a NaN weight in the netx layout (layer 0 is the input)
        w = f["layer/1/weight"][()]
        w[0, 0] = np.nan
        del f["layer/1/weight"]
        f["layer/1/weight"] = w
    assert main(["inspect", str(net)]) == 1
    out = capsys.readouterr().out
    assert "INVALID: 1 problem(s)" in out and "non-finite weight" in out and "net.h5" in out


@pytest.mark.parametrize("content", [None, b"this is not hdf5"])
def test_unreadable_files_exit_2_with_one_line(tmp_path, capsys, content):
    path = tmp_path / "x.h5"
    if content is not None:
        path.write_bytes(content)
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("snnpipe: error:") and "x.h5" in err[0]


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: snnpipe" in capsys.readouterr().out
