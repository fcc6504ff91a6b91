"""Our files against lava-dl: netx loads and runs them bit-exactly; slayer's exports load.

The oracle for spikes is a direct numpy transcription of DESIGN.md 5.1/5.2 with the integer rules
of snnpipe.hwmap.targets.loihi: layer k's Dense output at step t is ``W_int @ s_{k-1}[t-1]``.
"""
import h5py
import numpy as np
import pytest
import torch

from snnpipe.hwmap.targets import loihi
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.formats import hdf5
import zoo

pytestmark = pytest.mark.lava


def project(g, src, e, s: np.ndarray) -> np.ndarray:
    """Integer Dense/Conv output (N_dst, T) of source spikes ``s`` (N_src, T)."""
    w = loihi.weight_to_int(e["weight"])
    if e["op"] == "dense":
        return w @ s
    T = s.shape[1]
    frames = torch.tensor(s.reshape(*g.nodes[src]["shape"], T), dtype=torch.float64)
    a = torch.nn.functional.conv2d(frames.permute(3, 0, 1, 2), torch.tensor(w, dtype=torch.float64),
                                   stride=e["stride"], padding=e["padding"],
                                   dilation=e["dilation"], groups=e["groups"])
    return a.permute(1, 2, 3, 0).reshape(-1, T).numpy().astype(np.int64)


def loihi_reference(g, x: np.ndarray) -> np.ndarray:
    """Spikes (N_out, T) of a sequential cuba chain (with recurrent self-loops) for input spikes
    ``x`` (N_in, T), as Lava's fixed-point Dense + LIF compute them: every projection, forward
    or recurrent, delivers the spikes of step t-1 at step t."""
    spikes = {g.graph["inputs"][0]: x.astype(np.int64)}
    T = x.shape[1]
    for node in G.topological_order(g)[1:]:
        d = g.nodes[node]
        fwd = sum(project(g, u, e, spikes[u]) for u, _, e in g.in_edges(node, data=True)
                  if u != node)
        rec = [loihi.weight_to_int(e["weight"]) for u, _, e in g.in_edges(node, data=True)
               if u == node]
        i_decay = loihi.decay_to_int(d["current_decay"][0])
        v_decay = loihi.decay_to_int(d["voltage_decay"])
        theta = loihi.threshold_value(loihi.threshold_to_int(d["threshold"]))
        bias = np.rint(d["bias"] * 64).astype(np.int64) << 6          # netx: bias_exp = 6
        s = np.zeros_like(fwd)
        u = np.zeros(fwd.shape[0], np.int64)
        v = np.zeros_like(u)
        for t in range(T):
            a = fwd[:, t - 1] + sum(w @ s[:, t - 1] for w in rec) if t else 0 * u
            u = loihi.current_step(u, a, i_decay)
            v = loihi.voltage_step(v, u, v_decay, bias)
            s[:, t], v = loihi.spike_and_reset(v, theta)
        spikes[node] = s
    return spikes[g.graph["outputs"][0]]


def run_netx(path, x: np.ndarray, in_shape) -> np.ndarray:
    """Run ``netx.hdf5.Network(path)`` in Lava fixed point on ``x`` (N_in, T); spikes (N_out, T)
    in our (C, H, W) flattening order."""
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    T = x.shape[1]
    data = x.reshape(*in_shape, T)
    if len(in_shape) == 3:
        data = data.transpose(2, 1, 0, 3)           # (C, H, W) -> Lava's (W, H, C)
    net = netx.hdf5.Network(net_config=str(path))
    source, sink = Source(data=data), Sink(shape=net.out.shape, buffer=T)
    source.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    try:
        net.run(condition=RunSteps(num_steps=T), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        out = sink.data.get()
    finally:
        net.stop()
    if out.ndim == 4:
        out = out.transpose(2, 1, 0, 3)
    return out.reshape(-1, T).astype(np.int64)


def dense_with_bias(seed):
    """zoo.sequential_dense with a per-neuron bias on h1 and a scalar one on h2 (1/64 units)."""
    g = zoo.sequential_dense(seed)
    g.nodes["h1"]["bias"] = np.random.default_rng(seed).integers(-20, 20, size=12) / 64
    g.nodes["h2"]["bias"] = np.array(5 / 64)
    return g


NETX_CASES = {**zoo.ZOO, "dense_with_bias": dense_with_bias}


@pytest.mark.parametrize("name", ["sequential_dense", "sequential_conv", "recurrent_first",
                                  "dense_with_bias"])
def test_netx_loads_our_file_and_lava_fixed_point_spikes_equal_the_reference(name, tmp_path):
    g = NETX_CASES[name](3)
    hdf5.export(g, tmp_path / "net.h5")
    in_shape = g.nodes["in"]["shape"]
    x = (np.random.default_rng(0).random((G.size(in_shape), 30)) < 0.5).astype(np.int64)
    expected = loihi_reference(g, x)
    assert expected.sum() > 10                      # the test sees spikes, not silence
    assert np.array_equal(run_netx(tmp_path / "net.h5", x, in_shape), expected)
    assert np.array_equal(loihi_reference(hdf5.load(tmp_path / "net.h5"), x), expected)


@pytest.mark.parametrize("name", ["sequential_dense", "sequential_conv", "recurrent_first",
                                  "dense_with_bias"])
def test_the_loihi_integer_simulator_runs_a_loaded_file_like_the_reference(name, tmp_path):
    from snnpipe.hwmap.intsim.loihi import simulate
    from snnpipe.hwmap.mappers.loihi_map import map_graph

    hdf5.export(NETX_CASES[name](3), tmp_path / "net.h5")
    g = hdf5.load(tmp_path / "net.h5")
    in_shape = g.nodes[g.graph["inputs"][0]]["shape"]
    x = (np.random.default_rng(1).random((G.size(in_shape), 30)) < 0.5).astype(np.int64)
    config = map_graph(g)
    spikes = simulate(config, x).spikes[g.graph["outputs"][0]]
    assert np.array_equal(spikes.reshape(-1, 30), loihi_reference(g, x))


CUBA = dict(threshold=1.25, current_decay=0.25, voltage_decay=0.03, requires_grad=False)


def slayer_export(blocks, x, path):
    """Run one forward pass (export_hdf5 needs it) and write lava-dl's own file."""
    with torch.no_grad():
        for b in blocks:
            x = b(x)
    with h5py.File(path, "w") as f:
        layers = f.create_group("layer")
        for i, b in enumerate(blocks):
            b.export_hdf5(layers.create_group(str(i)))
    return x


def slayer_conv_net():
    import lava.lib.dl.slayer as slayer

    torch.manual_seed(0)
    return torch.nn.ModuleList([
        slayer.block.cuba.Input(CUBA),
        slayer.block.cuba.Conv(CUBA, 2, 4, (3, 2), padding=(1, 0), stride=(1, 2), weight_scale=2),
        slayer.block.cuba.Flatten(),
        slayer.block.cuba.Dense(CUBA, 4 * 6 * 2, 5, weight_scale=2),
    ])


def test_a_slayer_exported_conv_network_loads_with_its_weights_and_parameters(tmp_path):
    blocks = slayer_conv_net()
    slayer_export(blocks, (torch.rand(1, 2, 6, 5, 8) < 0.3).float(), tmp_path / "slayer.h5")
    g = hdf5.load(tmp_path / "slayer.h5")
    assert g.graph["dt"] == 1e-3                    # lava-dl files carry no dt
    assert list(g.nodes) == ["input", "layer0", "layer1", "layer3"]
    assert g.nodes["input"]["shape"] == (2, 6, 5) and g.nodes["layer1"]["shape"] == (4, 6, 2)
    assert g.edges["input", "layer0", 0]["op"] == "identity"
    conv = g.edges["layer0", "layer1", 0]
    assert (conv["stride"], conv["padding"], conv["dilation"]) == ((1, 2), (1, 0), (1, 1))
    for node, block in (("layer1", blocks[1]), ("layer3", blocks[3])):
        syn = block.synapse
        w = syn.pre_hook_fx(syn.weight, descale=True).detach().numpy()
        (_, _, e), = g.in_edges(node, data=True)
        assert np.array_equal(e["weight"] * 64, w.reshape(e["weight"].shape))
        params = block.neuron.device_params
        d = g.nodes[node]
        assert d["current_decay"].tolist() == [params["iDecay"] / 4096]
        assert d["voltage_decay"] == params["vDecay"] / 4096
        assert d["threshold"] == params["vThMant"] / 64


def structure(path) -> dict:
    """Every dataset of a file: name -> (dtype, shape)."""
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(name, (obj.dtype, obj.shape))
                     if isinstance(obj, h5py.Dataset) else None)
    return found


def test_our_netx_layout_has_the_datasets_dtypes_and_shapes_of_slayers_export(tmp_path):
    slayer_export(slayer_conv_net(), (torch.rand(1, 2, 6, 5, 8) < 0.3).float(), tmp_path / "s.h5")
    hdf5.export(hdf5.load(tmp_path / "s.h5"), tmp_path / "ours.h5")
    assert structure(tmp_path / "ours.h5") == structure(tmp_path / "s.h5")
    with h5py.File(tmp_path / "ours.h5", "r") as ours, h5py.File(tmp_path / "s.h5", "r") as theirs:
        for name in structure(tmp_path / "s.h5"):
            assert np.array_equal(ours[name][()], theirs[name][()]), name


def test_slayer_forward_spikes_equal_the_reference_run_of_the_loaded_graph(tmp_path):
    import lava.lib.dl.slayer as slayer

    torch.manual_seed(0)
    blocks = torch.nn.ModuleList([slayer.block.cuba.Dense(CUBA, 10, 12, weight_scale=3),
                                  slayer.block.cuba.Dense(CUBA, 12, 5, weight_scale=3)])
    x = (torch.rand(1, 10, 40) < 0.3).float()
    y = slayer_export(blocks, x, tmp_path / "slayer.h5")
    g = hdf5.load(tmp_path / "slayer.h5")
    assert [d["kind"] for _, d in g.nodes(data=True)] == ["input", "neuron", "neuron"]
    expected = y[0].numpy().astype(np.int64)
    assert expected.sum() > 10
    assert np.array_equal(loihi_reference(g, x[0].numpy()), expected)
