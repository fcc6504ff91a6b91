"""Opening a run that someone else trained never runs their code: checkpoints are read as
tensors and plain data only, anything else is a typed error (exit 2)."""
import pytest
import torch

from snnpipe.models.recipes import common
from snnpipe.pipeline.cli.main import main
from snnpipe.pipeline.ir.errors import FormatError


class _CreatesAFile:
    """Pickles as a call of ``open(path, "w")``: loading it with full unpickling creates the file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def test_a_checkpoint_that_would_run_code_is_refused_and_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "pwned.txt"
    ckpt = tmp_path / "ipd.pt"
    torch.save({"recipe": "ipd", "config": {"n_test": 4, "payload": _CreatesAFile(marker)},
                "state_dict": {}}, ckpt)
    assert main(["evaluate", "ipd", str(ckpt), "-n", "4"]) == 2
    err = capsys.readouterr().err
    assert "ipd.pt" in err and "checkpoint" in err
    assert not marker.exists()


def test_a_checkpoint_of_tensors_and_plain_data_reads_and_malformed_ones_name_the_field(tmp_path):
    good = tmp_path / "good.pt"
    torch.save({"recipe": "x", "config": {"n": 3, "sizes": (1, 2), "name": "a"}, "metrics": {},
                "state_dict": {"w": torch.ones(2)}}, good)
    data = common.read_checkpoint(good)
    assert data["config"]["sizes"] == (1, 2) and torch.equal(data["state_dict"]["w"], torch.ones(2))
    for bad, field in (({"config": [], "state_dict": {}}, "config"),
                       ({"config": {}, "state_dict": {"w": 1.0}}, "state_dict['w']")):
        path = tmp_path / "bad.pt"
        torch.save(bad, path)
        with pytest.raises(FormatError, match="bad.pt") as e:
            common.read_checkpoint(path)
        assert e.value.field == field
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(FormatError, match="junk.pt"):
        common.read_checkpoint(tmp_path / "junk.pt")
