"""XyloConfig save/load, typed errors on corrupt files, every design rule, the integer rules."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from snnpipe.hwmap.targets import xylo as X
from snnpipe.hwmap.mappers.xylo_config import ARRAY_FIELDS, SCALAR_FIELDS, XyloConfig
from snnpipe.hwmap.targets import xylo_rules as R
from snnpipe.hwmap.targets.xylo import XYLO_AUDIO2, XYLO_V1
from snnpipe.hwmap.targets.xylo_rules import RULES, check, validate
from snnpipe.pipeline.ir.errors import (CapacityError, FormatError, QuantizationError,
                                        ValidationErrors)


def small_config(n_in=3, n_hid=5, n_out=2, **kw) -> XyloConfig:
    rng = np.random.default_rng(0)
    base = dict(weights_in=rng.integers(-128, 128, (n_in, n_hid, 2)),
                weights_rec=rng.integers(-128, 128, (n_hid, n_hid, 2)) * (rng.random((n_hid, n_hid, 2)) < min(0.3, 20 / n_hid)),
                weights_out=rng.integers(-128, 128, (n_hid, n_out)), dash_mem=np.full(n_hid, 3),
                dash_syn=np.full(n_hid, 2), dash_syn_2=np.full(n_hid, 5), dash_mem_out=np.full(n_out, 2),
                dash_syn_out=np.full(n_out, 1), threshold=np.full(n_hid, 500),
                threshold_out=np.full(n_out, 300), bias=np.arange(n_hid) % 7 - 2, bias_out=np.zeros(n_out, int),
                weight_shift_in=3, weight_shift_rec=2, weight_shift_out=1,
                aliases=[[1]] + [[] for _ in range(n_hid - 1)], dt=2e-3)
    base.update(kw)
    return XyloConfig(**base)


def same(a: XyloConfig, b: XyloConfig) -> bool:
    return all(np.array_equal(np.asarray(getattr(a, f)), np.asarray(getattr(b, f)))
               for f in ARRAY_FIELDS + SCALAR_FIELDS) and a.aliases == b.aliases and a.dt == b.dt


# ---- save / load -----------------------------------------------------------------------------

@pytest.mark.parametrize("n_hid", [5, 300])          # 300: weights_rec goes to the .npz
def test_save_load_round_trip(tmp_path, n_hid):
    c = small_config(n_hid=n_hid)
    path = c.save(tmp_path)
    assert path.name == "config.json"
    loaded = XyloConfig.load(tmp_path)
    assert same(c, loaded) and check(loaded) == []


def test_defaults_follow_rockpool():
    c = XyloConfig(weights_in=np.ones((2, 3), int), weights_out=np.ones((3, 1), int))
    assert c.weights_in.shape == (2, 3, 2) and c.weights_rec.shape == (3, 3, 2)
    assert c.threshold.tolist() == [0, 0, 0] and c.aliases == [[], [], []] and c.shape == (2, 3, 1)


def _corrupt(tmp_path, edit):
    small_config().save(tmp_path)
    doc = json.loads((tmp_path / "config.json").read_text())
    edit(doc)
    (tmp_path / "config.json").write_text(json.dumps(doc))


@pytest.mark.parametrize("edit, field", [
    (lambda d: d.update(target="loihi"), "target"),
    (lambda d: d["fields"].pop("weights_in"), "weights_in"),
    (lambda d: d["fields"]["dash_mem"]["array"].update(data=[1, 2], shape=[2]), "dash_mem"),
    (lambda d: d["fields"]["threshold"]["array"].update(dtype="float64", data=[0.5] * 5), "threshold"),
    (lambda d: d["fields"].update(weight_shift_in={"value": "three"}), "weight_shift_in"),
    (lambda d: d["fields"]["aliases"]["array"].update(data=[9, -1, -1, -1, -1]), "aliases[0]"),
    (lambda d: d["fields"].update(surprise={"value": 1}), "surprise"),
    (lambda d: d["fields"].update(dt={"value": -1}), "dt"),
])
def test_corrupt_configs_raise_format_error_naming_the_field(tmp_path, edit, field):
    _corrupt(tmp_path, edit)
    with pytest.raises(FormatError) as e:
        XyloConfig.load(tmp_path)
    assert e.value.field == field and "config.json" in str(e.value)


def test_missing_file_is_a_format_error(tmp_path):
    with pytest.raises(FormatError):
        XyloConfig.load(tmp_path / "nowhere")


# ---- design rules ----------------------------------------------------------------------------

def test_valid_config_passes_every_rule():
    assert check(small_config()) == []
    validate(small_config())


@pytest.mark.parametrize("rule, kw, error, field", [
    (R.rule_input_count, dict(n_in=17), CapacityError, "weights_in"),
    (R.rule_hidden_count, dict(n_hid=1001), CapacityError, "weights_rec"),
    (R.rule_output_count, dict(n_out=9), CapacityError, "weights_out"),
    (R.rule_weight_range, dict(weights_out=np.full((5, 2), 128)), QuantizationError, "weights_out"),
    (R.rule_weight_shift, dict(weight_shift_rec=8), QuantizationError, "weight_shift_rec"),
    (R.rule_dash_range, dict(dash_syn_2=np.full(5, 16)), QuantizationError, "dash_syn_2"),
    (R.rule_threshold_range, dict(threshold_out=np.array([300, 0])), QuantizationError, "threshold_out"),
    (R.rule_bias_range, dict(bias=np.array([0, 0, 0, 0, 128])), QuantizationError, "bias"),
    (R.rule_aliases, dict(aliases=[[1, 2], [], [], [], []]), CapacityError, "aliases"),
    (R.rule_aliases, dict(aliases=[[], [1], [], [], []]), CapacityError, "aliases"),
    (R.rule_fanout, dict(n_hid=70, weights_rec=np.ones((70, 70, 2), int)), CapacityError, "weights_rec"),
])
def test_each_rule_fires_with_a_message_naming_field_limit_and_value(rule, kw, error, field):
    sizes = {k: kw.pop(k) for k in ("n_in", "n_hid", "n_out") if k in kw}
    c = small_config(**sizes, **kw)
    with pytest.raises(error) as e:
        rule(c, XYLO_AUDIO2)
    assert e.value.field == field and e.value.expected is not None and e.value.found is not None
    fired = [err.rule for err in check(c)]
    assert rule.__name__ in fired
    with pytest.raises(ValidationErrors):
        validate(c)


def test_rule_synapses_and_v1_bias():
    c = small_config()
    one_syn = X.XyloLimits(n_syn=1)
    with pytest.raises(CapacityError) as e:
        R.rule_synapses(c, one_syn)
    assert e.value.field == "weights_in"
    with pytest.raises(QuantizationError):
        R.rule_bias_range(c, XYLO_V1)
    assert R.rule_bias_range(small_config(bias=np.zeros(5, int)), XYLO_V1) is None


def test_every_rule_is_tested():
    tested = {"rule_input_count", "rule_hidden_count", "rule_output_count", "rule_weight_range",
              "rule_weight_shift", "rule_dash_range", "rule_threshold_range", "rule_bias_range",
              "rule_aliases", "rule_fanout", "rule_synapses"}
    assert {r.__name__ for r in RULES} == tested


# ---- integer rules: numpy and torch agree -----------------------------------------------------

ints16 = st.lists(st.integers(-32768, 32767), min_size=1, max_size=20)


@settings(max_examples=60, deadline=None)
@given(v=ints16, dash=st.integers(0, 15), i=st.integers(-65536, 65535), bias=st.integers(-128, 127),
       theta=st.integers(-5, 32767), room=st.integers(0, 31))
def test_rules_agree_on_numpy_and_torch(v, dash, i, bias, theta, room):
    a = np.array(v, np.int64)
    t = torch.tensor(v, dtype=torch.int64)
    d = np.full(a.shape, dash)
    for fn, args in ((X.decay, (d,)), (X.current_step, (d,)), (X.sat16, ()), (X.wrap16, ()),
                     (X.membrane_step, (np.full(a.shape, i), d, np.full(a.shape, bias))),
                     (X.membrane_step_v1, (np.full(a.shape, i), d))):
        ref = fn(a, *args)
        got = fn(t, *(torch.from_numpy(np.asarray(x)) for x in args))
        assert np.array_equal(ref, got.numpy()), fn.__name__
    th = np.full(a.shape, theta)
    n, v_after = X.spike_count(a, th, room)
    n_t, v_t = X.spike_count(t, torch.from_numpy(th), room)
    assert np.array_equal(n, n_t.numpy()) and np.array_equal(v_after, v_t.numpy())
    if theta > 0:
        n_f, v_f = X.spike_count_numpy(a.astype(np.int32), th.astype(np.float32), th.astype(np.int32), room)
        n_p, v_p = X.spike_count_positive(t, torch.from_numpy(th), room)
        assert np.array_equal(n, n_f) and np.array_equal(v_after, v_f)
        assert np.array_equal(n, n_p.numpy()) and np.array_equal(v_after, v_p.numpy())


def test_decay_has_a_minimum_step_of_one():
    v = np.array([1, 5, -1, -5, 0, 32767, -32768])
    assert X.decay(v, np.full(7, 15)).tolist() == [1, 1, -1, -1, 0, 1, -1]
    assert X.decay(v, np.zeros(7, int)).tolist() == v.tolist()
