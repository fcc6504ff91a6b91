"""Event files are byte-compatible with lava-dl's slayer.io, both ways."""
import numpy as np
import pytest

from snnpipe.pipeline.ir.errors import FormatError
from snnpipe.pipeline.formats.events import (Events, from_raster, read_bs1, read_bs2, read_events,
                                             read_npy_events, to_raster, write_bs1, write_bs2,
                                             write_npy_events)

slayer_io = pytest.importorskip("lava.lib.dl.slayer.io", reason="needs lava-dl (Python 3.10)")
pytestmark = pytest.mark.lava


def random_events(rng, n=500, n_x=200, n_y=None, t_max_ms=2000.0):
    x = rng.integers(0, n_x, n)
    y = None if n_y is None else rng.integers(0, n_y, n)
    return Events(x=x, y=y, c=rng.integers(0, 2, n), t=np.round(rng.uniform(0, t_max_ms, n), 3))


@pytest.mark.parametrize("seed", [0, 1])
def test_bs1_written_by_slayer_reads_back_identically(tmp_path, seed):
    ev = random_events(np.random.default_rng(seed), n_x=256)   # slayer's writer loses ids >= 256
    slayer_io.encode_1d_spikes(str(tmp_path / "s.bs1"), slayer_io.Event(ev.x, None, ev.c, ev.t))
    ours = read_bs1(tmp_path / "s.bs1")
    theirs = slayer_io.read_1d_spikes(str(tmp_path / "s.bs1"))
    for f in "xct":
        assert np.array_equal(getattr(ours, f), getattr(theirs, f)), f
    write_bs1(tmp_path / "o.bs1", ours)
    assert (tmp_path / "o.bs1").read_bytes() == (tmp_path / "s.bs1").read_bytes()


def test_bs1_ids_beyond_255_survive_our_writer_and_slayers_reader(tmp_path):
    ev = Events(x=np.array([0, 255, 256, 1000, 65535]), y=None, c=np.array([1, 0, 1, 0, 1]),
                t=np.array([0.0, 1.5, 2.0, 8388.607, 3.0]))
    write_bs1(tmp_path / "o.bs1", ev)
    theirs = slayer_io.read_1d_spikes(str(tmp_path / "o.bs1"))
    assert np.array_equal(theirs.x, ev.x) and np.array_equal(theirs.c, ev.c)
    assert np.allclose(theirs.t, ev.t)


def test_bs2_both_ways(tmp_path):
    ev = random_events(np.random.default_rng(3), n_x=34, n_y=34)
    slayer_io.encode_2d_spikes(str(tmp_path / "s.bs2"), slayer_io.Event(ev.x, ev.y, ev.c, ev.t))
    write_bs2(tmp_path / "o.bs2", ev)
    assert (tmp_path / "o.bs2").read_bytes() == (tmp_path / "s.bs2").read_bytes()
    ours, theirs = read_bs2(tmp_path / "s.bs2"), slayer_io.read_2d_spikes(str(tmp_path / "s.bs2"))
    for f in "xyct":
        assert np.array_equal(getattr(ours, f), getattr(theirs, f)), f


def test_numpy_events_both_ways(tmp_path):
    ev = random_events(np.random.default_rng(4), n=50)
    write_npy_events(tmp_path / "o.npy", ev)
    theirs = slayer_io.read_np_spikes(str(tmp_path / "o.npy"))
    assert np.array_equal(theirs.x, ev.x) and np.allclose(theirs.t, ev.t)
    slayer_io.encode_np_spikes(str(tmp_path / "s.npy"), slayer_io.Event(ev.x, None, ev.c, ev.t))
    ours = read_npy_events(tmp_path / "s.npy")
    assert np.array_equal(ours.x, ev.x) and np.allclose(ours.t, ev.t) and ours.y is None


def test_raster_matches_slayer_fill_tensor_for_binary_events():
    rng = np.random.default_rng(5)
    raster = (rng.random((2 * 20, 100)) < 0.05).astype(np.int64)
    ev = from_raster(raster, n_x=20)
    theirs = slayer_io.Event(ev.x, None, ev.c, ev.t).fill_tensor(np.zeros((2, 1, 20, 100)))
    assert np.array_equal(to_raster(ev, n_x=20, n_c=2, steps=100), theirs.reshape(40, 100))
    assert np.array_equal(to_raster(ev, n_x=20, n_c=2, steps=100), raster)


def test_counts_round_trip_through_events():
    raster = np.random.default_rng(6).integers(0, 4, size=(3, 4 * 5, 30))[0]
    assert np.array_equal(to_raster(from_raster(raster, n_x=5, n_y=4), n_x=5, n_y=4, n_c=1, steps=30), raster)


def test_bad_event_files_are_format_errors(tmp_path):
    (tmp_path / "bad.bs1").write_bytes(b"\x00" * 7)
    with pytest.raises(FormatError, match="multiple of 5"):
        read_events(tmp_path / "bad.bs1")
    with pytest.raises(FormatError, match="unsupported event file type"):
        read_events(tmp_path / "x.aedat")
    with pytest.raises(FormatError, match="23 bits"):
        write_bs1(tmp_path / "t.bs1", Events(x=np.array([1]), y=None, c=np.array([0]), t=np.array([9000.0])))
    assert not (tmp_path / "t.bs1").exists()
