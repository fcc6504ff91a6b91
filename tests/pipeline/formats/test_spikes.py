"""Spike rasters: (channels, time) or (batch, channels, time) integer counts; results as .npz."""
import numpy as np
import pytest

from snnpipe.pipeline.ir.errors import FormatError
from snnpipe.pipeline.formats.spikes import load_raster, save_result


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


def test_event_files_are_read_as_rasters_of_the_network_input(tmp_path):
    from snnpipe.pipeline.formats.events import from_raster, write_bs1, write_bs2, write_npy_events

    rng = np.random.default_rng(3)
    r1 = rng.integers(0, 2, (2 * 5, 40))                       # 1-D: polarity x 5 neurons
    r1[:, -1] = 1                                              # the last step has events
    write_bs1(tmp_path / "a.bs1", from_raster(r1, n_x=5))
    got = load_raster(tmp_path / "a.bs1", channels=10)
    assert got.shape == (1, 10, 40) and np.array_equal(got[0], r1)
    write_npy_events(tmp_path / "a.events.npy", from_raster(r1, n_x=5))
    assert np.array_equal(load_raster(tmp_path / "a.events.npy", channels=10), got)
    r2 = rng.integers(0, 2, (2 * 3 * 4, 25))                   # 2-D: (c=2, y=3, x=4)
    r2[:, -1] = 1
    write_bs2(tmp_path / "b.bs2", from_raster(r2, n_x=4, n_y=3))
    assert np.array_equal(load_raster(tmp_path / "b.bs2", shape=(2, 3, 4))[0], r2)
    with pytest.raises(FormatError, match="channels"):
        load_raster(tmp_path / "b.bs2", channels=7, shape=(2, 3, 4))
