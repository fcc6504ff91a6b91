"""Plots: PNG and animated GIF files that open, from rasters, training statistics and reports."""
import numpy as np
import pytest
from PIL import Image

from snnpipe.pipeline.report import plots
from snnpipe.pipeline.ir.errors import FormatError


def test_raster_gif_of_a_1d_raster_sweeps_time_in_frames(tmp_path):
    r = (np.random.default_rng(0).random((20, 50)) < 0.2).astype(np.int64)
    plots.raster_gif(tmp_path / "r.gif", r, window=10)
    with Image.open(tmp_path / "r.gif") as im:
        assert im.format == "GIF" and im.n_frames == 5
        im.seek(im.n_frames - 1)
        last = np.asarray(im.convert("L"))
    assert (last < 128).any()                      # the last frame shows spikes


def test_raster_gif_of_2d_events_shows_each_window_as_an_image(tmp_path):
    r = np.zeros((2 * 4 * 6, 9), np.int64)          # (c=2, y=4, x=6) channels, 9 steps
    r[(1 * 4 + 2) * 6 + 3, 4] = 1                   # one event: polarity 1, y 2, x 3, step 4
    plots.raster_gif(tmp_path / "e.gif", r, shape=(2, 4, 6), window=3, scale=1)
    with Image.open(tmp_path / "e.gif") as im:
        assert im.n_frames == 3 and im.size == (12, 4)   # polarities side by side
        im.seek(1)
        frame = np.asarray(im.convert("L"))
    assert frame[2, 6 + 3] < 128 and (frame >= 128).sum() == frame.size - 1


def test_raster_gif_rejects_a_shape_that_does_not_fit(tmp_path):
    with pytest.raises(FormatError, match="shape"):
        plots.raster_gif(tmp_path / "x.gif", np.zeros((10, 5)), shape=(3, 3))
    assert not list(tmp_path.iterdir())


def test_training_curves_from_a_stats_csv(tmp_path):
    (tmp_path / "stats.csv").write_text("epoch,phase,loss,accuracy\n0,train,2.0,0.1\n1,train,1.0,0.5\n"
                                        "0,valid,2.5,0.1\n1,valid,1.5,0.4\n")
    stats = plots.read_stats(tmp_path / "stats.csv")
    assert stats["valid"]["loss"] == [2.5, 1.5]
    plots.training_curves(tmp_path / "t.png", stats, [{"epoch": 0, "mae": 3.0}, {"epoch": 1, "mae": 2.0}])
    with Image.open(tmp_path / "t.png") as im:
        assert im.format == "PNG" and im.size[0] > im.size[1]


def test_rasters_show_states_as_images_and_spikes_as_dots(tmp_path):
    spikes = (np.random.default_rng(1).random((8, 30)) < 0.1).astype(int)
    v = np.random.default_rng(2).normal(size=(3, 30))
    plots.rasters(tmp_path / "r.png", {"in": spikes, "v": v})
    assert Image.open(tmp_path / "r.png").format == "PNG"
    with pytest.raises(FormatError):
        plots.rasters(tmp_path / "bad.png", {"in": np.zeros(5)})


def test_verification_table_image_and_nothing_to_draw(tmp_path):
    rep = {"implementations": ["torch-loihi", "lava-fixed", "intsim-loihi"], "reference": "torch-loihi",
           "rows": [{"kind": "output", "node": "out", "var": "spikes",
                     "diffs": {"lava-fixed": 0, "intsim-loihi": 3}}]}
    plots.verification(tmp_path / "v.png", {"loihi": rep})
    img = np.asarray(Image.open(tmp_path / "v.png").convert("RGB")).reshape(-1, 3)
    assert ((img == (0xc8, 0xf0, 0xc8)).all(1)).any() and ((img == (0xf4, 0xb6, 0xb6)).all(1)).any()
    with pytest.raises(FormatError):
        plots.verification(tmp_path / "none.png", {"loihi": dict(rep, rows=[])})
