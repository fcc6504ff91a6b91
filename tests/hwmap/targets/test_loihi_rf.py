"""The resonate-and-fire rule of the Loihi-style target (hwmap/targets/loihi.py ``rf_step``),
by hand-computed traces, and its decays as Lava's RF and lava-dl compute them."""
import numpy as np
import pytest
import torch

from snnpipe.hwmap.targets import loihi

SIN, COS = 2048, 3000          # 1/4096: (1 - decay) sin(phi), (1 - decay) cos(phi)


def _run(steps, lib, izhikevich, theta):
    real = imag = lib.zeros(1, dtype=lib.int64)
    out = []
    for xr, xi in steps:
        s, real, imag = loihi.rf_step(lib.full((1,), xr, dtype=lib.int64),
                                      lib.full((1,), xi, dtype=lib.int64), real, imag, SIN, COS,
                                      theta, izhikevich=izhikevich)
        out.append((bool(s[0]), int(real[0]), int(imag[0])))
    return out


@pytest.mark.parametrize("lib", [np, torch])
def test_phase_spikes_on_the_upward_zero_crossing_of_imag_above_threshold(lib):
    # step 2: re = t(3000*8192/4096) - t(2048*-4096/4096) = 6000 + 2048, im = 4096 - 3000
    # step 3: re = t(5894.5) - t(548) = 5346 (below 6400), im = 4024 + t(802.7) = 4826
    assert _run([(8192, -4096), (0, 0), (0, 0)], lib, False, 6400) == [
        (False, 8192, -4096), (True, 8048, 1096), (False, 5346, 4826)]


@pytest.mark.parametrize("lib", [np, torch])
def test_izhikevich_spikes_on_imag_and_resets_to_theta_minus_one(lib):
    # step 2: re = 0 - t(2048*999/4096) = -499, im = 0 + t(3000*999/4096) = 731
    assert _run([(300, 1500), (0, 0)], lib, True, 1000) == [(True, 0, 999), (False, -499, 731)]


def test_products_shift_toward_zero_and_states_saturate_at_24_bits():
    s, re, im = loihi.rf_step(np.array([0, 1 << 24]), np.array([0, -(1 << 24)]),
                              np.array([-1000, 0]), np.array([0, 0]), SIN, COS, 6400,
                              izhikevich=False)
    assert re.tolist() == [-732, loihi.V_MAX]             # t(-732.4) = -732, not -733
    assert im.tolist() == [-500, -loihi.V_MAX]
    assert not s.any()


@pytest.mark.parametrize("period,decay", [(4.0, 0.0), (7.0, 0.1), (13.3, 0.05), (50.0, 0.2)])
def test_decays_are_lavas_rf_integers(period, decay):
    from lava.proc.rf.process import RF

    rf = RF(shape=(1,), period=period, alpha=decay, state_exp=6, decay_bits=12)
    want = (int(rf.sin_decay.init), int(rf.cos_decay.init))
    assert tuple(int(v) for v in loihi.rf_decays_to_int(period, decay)) == want


def test_period_and_decay_of_integers_are_slayers():
    from lava.lib.dl.slayer.neuron.rf import neuron_params

    sin, cos = np.array([2882, 1, 4000]), np.array([2298, 4090, 0])
    period, decay = loihi.rf_decays_from_int(sin, cos)
    for k in range(3):
        p = neuron_params({"sinDecay": sin[k], "cosDecay": cos[k], "vThMant": 1})
        assert (period[k], decay[k]) == (p["period"], p["decay"])
