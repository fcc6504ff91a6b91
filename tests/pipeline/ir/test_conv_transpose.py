"""The ``conv_transpose`` edge op (torch's ConvTranspose2d without output padding): its matrix
by hand and against torch, validation, the file round trip, the Loihi rules and a tiny network
whose currents are computed by hand, equal on torch-loihi, intsim-loihi and lava-fixed."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import snnpipe
from snnpipe.hwmap.targets import loihi_rules
from snnpipe.hwmap.targets.loihi import LoihiLimits
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import CapacityError, GraphError
from snnpipe.pipeline.ir.transpose import as_dense, conv_transpose_matrix
from snnpipe.pipeline.ir.validate import validate


def test_stride_two_places_a_scaled_copy_of_the_kernel_per_input():
    k = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])          # (C_in 1, C_out 1, 2, 2)
    m = conv_transpose_matrix((1, 2, 2), k, (2, 2), (0, 0), (1, 1))
    assert m.shape == (16, 4)
    out = (m @ np.array([0.0, 0.0, 0.0, 1.0])).reshape(4, 4)   # input (1, 1) alone
    assert out.tolist() == [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 2], [0, 0, 3, 4]]


def test_padding_crops_and_dilation_spreads_the_taps():
    a, b, c = 1.0, 2.0, 3.0
    m = conv_transpose_matrix((1, 1, 2), [[[[a, b, c]]]], (1, 1), (0, 1), (1, 1))
    assert m.tolist() == [[b, a], [c, b]]        # out x' = w - 1 + j
    m = conv_transpose_matrix((1, 1, 2), [[[[a, b]]]], (1, 1), (0, 0), (1, 2))
    assert m.tolist() == [[a, 0], [0, a], [b, 0], [0, b]]     # out x' = w + 2 j


def test_groups_keep_channels_apart():
    m = conv_transpose_matrix((2, 1, 1), [[[[5.0]]], [[[7.0]]]], (1, 1), (0, 0), (1, 1), 2)
    assert m.tolist() == [[5, 0], [0, 7]]


@pytest.mark.parametrize("seed", range(20))
def test_the_matrix_is_torchs_conv_transpose2d(seed):
    rng = np.random.default_rng(seed)
    groups = int(rng.integers(1, 4))
    c_in, h, w = groups * int(rng.integers(1, 3)), int(rng.integers(1, 5)), int(rng.integers(1, 5))
    weight = rng.normal(size=(c_in, int(rng.integers(1, 3)), *rng.integers(1, 4, 2)))
    stride, dilation = tuple(rng.integers(1, 4, 2)), tuple(rng.integers(1, 3, 2))
    padding = tuple(min(int(p), int(d * (k - 1)) // 2) for p, d, k in
                    zip(rng.integers(0, 3, 2), dilation, weight.shape[2:]))
    x = rng.normal(size=(c_in, h, w))
    y = F.conv_transpose2d(torch.tensor(x)[None], torch.tensor(weight), None, stride, padding, 0,
                           groups, dilation)[0].numpy()
    m = conv_transpose_matrix((c_in, h, w), weight, stride, padding, dilation, groups)
    assert y.shape == G.conv_transpose_output_shape((c_in, h, w), weight.shape, stride, padding,
                                                    dilation, groups)
    np.testing.assert_allclose(m @ x.reshape(-1), y.reshape(-1), atol=1e-12)


def tiny(weight=((1.0, 0.5),), shape=(1, 1, 4)):
    """input (1, 1, 2) -> conv_transpose (kernel 1x2, stride 2) -> cuba (1, 1, 4)."""
    g = G.new_graph("tiny")
    G.add_input(g, "in", (1, 1, 2))
    G.add_neuron(g, "out", shape, current_decay=0.5, voltage_decay=0.0, threshold=1.25)
    G.add_conv_transpose(g, "in", "out", np.array(weight)[None, None], stride=2)
    G.set_outputs(g, ["out"])
    return g


def test_validation_names_shape_weight_and_delay():
    assert validate(tiny()) == []
    (p,) = validate(tiny(shape=(1, 1, 5)))
    assert (p.field, p.found) == ("shape", (1, 1, 5))
    g = tiny()
    g.edges["in", "out", 0]["weight"] = np.ones((2, 1, 1, 2))
    assert [p.field for p in validate(g)] == ["weight"]
    g = tiny()
    g.edges["in", "out", 0]["delay"] = np.ones((1, 1, 1, 2), np.int64)
    assert [p.field for p in validate(g)] == ["delay"]


def test_a_tiny_network_integrates_what_the_kernel_says_on_every_backend():
    """Input spikes at x=0 on steps 0 and 1, x=1 on step 1: output neuron 2w+j gets
    kernel[j] from input w, one step later; currents decay by half; voltages integrate them
    (no decay) and spike when they exceed 1.25: neuron 0 at 2.5 (step 2), 1 and 2 at 1.625 and
    1.5 (step 3), not 3 (0.75)."""
    x = np.array([[[1, 1, 0, 0], [0, 1, 0, 0]]])           # (batch, 2 inputs, 4 steps)
    u = np.array([[0, 1, 1.5, 0.75], [0, 0.5, 0.75, 0.375],
                  [0, 0, 1, 0.5], [0, 0, 0.5, 0.25]])       # float units, by hand
    for backend, target in (("torch-loihi", "graph"), ("intsim-loihi", "loihi"),
                            ("lava-fixed", "graph")):
        run = snnpipe.simulate(snnpipe.compile(tiny(), target), x, backend, record=True)
        np.testing.assert_array_equal(run.pops["out"]["u"][0, 0], u * 4096, err_msg=backend)
        assert run.pops["out"]["spikes"][0].tolist() == [[0, 0, 1, 0], [0, 0, 0, 1],
                                                         [0, 0, 0, 1], [0, 0, 0, 0]], backend


def test_the_file_holds_it_in_the_graph_group_only(tmp_path):
    import h5py

    g = tiny()
    snnpipe.save(g, tmp_path / "t.h5")
    with h5py.File(tmp_path / "t.h5") as f:
        assert "graph" in f and "layer" not in f
    back = snnpipe.load(tmp_path / "t.h5")
    (e,) = [d for _, _, d in back.edges(data=True)]
    assert e["op"] == "conv_transpose" and e["stride"] == (2, 2) and e["groups"] == 1
    np.testing.assert_array_equal(e["weight"], g.edges["in", "out", 0]["weight"])


def rule_found(rule, g, **limits):
    with pytest.raises(CapacityError) as err:
        rule(g, LoihiLimits(**limits))
    return err.value.found


def test_loihi_rules_count_it_as_its_dense_matrix():
    rng = np.random.default_rng(3)
    g = G.new_graph()
    G.add_input(g, "in", (2, 3, 3))
    w = rng.normal(1.0, 1.0, (2, 3, 3, 3))
    out = G.conv_transpose_output_shape((2, 3, 3), w.shape, 2, 1, 1)
    G.add_neuron(g, "out", out)
    G.add_conv_transpose(g, "in", "out", w, stride=2, padding=1)
    G.set_outputs(g, ["out"])
    dense = as_dense(g)
    assert [d["op"] for *_, d in dense.edges(data=True)] == ["dense"]
    assert rule_found(loihi_rules.rule_fan_in, g, max_fan_in=1) \
        == rule_found(loihi_rules.rule_fan_in, dense, max_fan_in=1) == 18
    cfg = snnpipe.compile(g, "loihi").artifact
    assert [p.op for p in cfg.projections] == ["dense"]


def test_as_dense_refuses_a_matrix_too_large():
    from snnpipe.pipeline.ir import transpose

    g = tiny()
    old, transpose.MAX_DENSE = transpose.MAX_DENSE, 4
    try:
        with pytest.raises(GraphError, match="too large"):
            as_dense(g)
    finally:
        transpose.MAX_DENSE = old
