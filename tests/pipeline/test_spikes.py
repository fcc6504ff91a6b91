"""Spike rasters: (channels, time) or (batch, channels, time) integer counts; results as .npz."""
import numpy as np
import pytest

from pipeline.errors import FormatError
from pipeline.spikes import load_raster, save_result


def test_a_2d_raster_reads_as_a_batch_of_one(tmp_path):
    a = np.random.default_rng(0).integers(0, 3, size=(4, 10)).astype(np.uint8)
    np.save(tmp_path / "in.npy", a)
    r = load_raster(tmp_path / "in.npy", channels=4)
    assert r.shape == (1, 4, 10) and r.dtype == np.int64 and np.array_equal(r[0], a)


def test_float_rasters_of_whole_counts_are_accepted(tmp_path):
    np.save(tmp_path / "in.npy", np.ones((2, 3, 5), dtype=np.float32))
    assert load_raster(tmp_path / "in.npy").shape == (2, 3, 5)


@pytest.mark.parametrize("content, field", [
    (np.zeros(5), "shape"),
    (np.full((2, 5), 0.5), "values"),
    (np.full((2, 5), -1), "values"),
    (np.full((2, 5), np.nan), "dtype"),
    (np.zeros((3, 5)), "channels"),
])
def test_bad_rasters_name_the_file_and_field(tmp_path, content, field):
    np.save(tmp_path / "bad.npy", content)
    with pytest.raises(FormatError) as e:
        load_raster(tmp_path / "bad.npy", channels=2)
    assert e.value.field == field and "bad.npy" in str(e.value)


def test_missing_and_non_npy_files(tmp_path):
    with pytest.raises(FormatError, match="no such file"):
        load_raster(tmp_path / "nope.npy")
    (tmp_path / "x.npy").write_bytes(b"not numpy")
    with pytest.raises(FormatError, match="not a .npy"):
        load_raster(tmp_path / "x.npy")
    with pytest.raises(FormatError, match="unsupported spike file type"):
        load_raster(tmp_path / "x.txt")


def test_result_file_round_trips_with_states(tmp_path):
    out = np.arange(6).reshape(1, 2, 3)
    save_result(tmp_path / "out.npz", out, backend="intsim", t_offset=1,
                states={"hidden/v": np.ones((1, 4, 3))})
    with np.load(tmp_path / "out.npz") as z:
        assert np.array_equal(z["output"], out) and int(z["t_offset"]) == 1
        assert str(z["backend"]) == "intsim" and z["hidden/v"].shape == (1, 4, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"]  # no temp file left behind
