"""Our sigma-delta (SDNN) blocks (models/block/sigma_delta.py) against lava-dl's own
``slayer.block.sigma_delta``: the same network (weights, thresholds, Input transform,
MeanOnlyBatchNorm means) gives slayer's forward value for value in the loihi precision (train
and eval mode, batch > 1, graded signed input), slayer's gradients (float32 sums in another
order: equal within 1e-5), and ``to_graph`` the Graph that ``snnpipe.load`` reads from
slayer's ``export_hdf5``; that Graph runs on intsim-loihi as our blocks compute.

The slayer networks are :mod:`slayer_sdnn_zoo`'s (random Input transform, Conv geometry,
Flatten, Dense, norms, Output); :func:`mirror` builds ours from a slayer network.
"""
import numpy as np
import pytest
import torch

import slayer_sdnn_zoo
import snnpipe
from snnpipe.models.block import sigma_delta as sd
from snnpipe.models.network import Network
from snnpipe.pipeline.ir import graph as G

pytestmark = pytest.mark.lava
slayer = pytest.importorskip("lava.lib.dl.slayer")

SEEDS = (0, 3, 12)        # dense only; conv + norms + input weight; conv + dense, input bias


def _params(block, **extra) -> dict:
    p = {"threshold": float(block.neuron.delta.threshold), "activation": torch.nn.functional.relu,
         **extra}
    if getattr(block.neuron, "norm", None) is not None:
        p["norm"] = sd.MeanOnlyBatchNorm
    return p


def mirror(net, **extra) -> Network:
    """Our blocks with the slayer network's parameters (``extra``: more neuron_params)."""
    blocks = []
    for b in net.blocks:
        name = type(b).__name__
        if name == "Pool":
            blocks.append(sd.Pool({"threshold": float(b.neuron.delta.threshold)},
                                  tuple(b.synapse.kernel_size[:2]),
                                  stride=tuple(b.synapse.stride[:2])))
            continue
        if name == "Flatten":
            blocks.append(sd.Flatten())
            continue
        if name == "Input":
            w = None if b.weight is None else float(b.weight)
            bias = None if b.bias is None else float(b.bias)
            blocks.append(sd.Input(_params(b, **extra), weight=w, bias=bias))
            continue
        s = b.synapse
        if name == "Conv":
            ours = sd.Conv(_params(b, **extra), s.in_channels, s.out_channels,
                           tuple(s.kernel_size[:2]), stride=tuple(s.stride[:2]),
                           padding=tuple(s.padding[:2]), dilation=tuple(s.dilation[:2]),
                           groups=s.groups)
        else:
            cls = sd.Dense if name == "Dense" else sd.Output
            ours = cls(_params(b, **extra), s.in_channels, s.out_channels)
        with torch.no_grad():
            ours.synapse.weight.copy_(s.weight.reshape(ours.synapse.weight.shape))
        if getattr(b.neuron, "norm", None) is not None:
            ours.neuron.norm.running_mean = b.neuron.norm.running_mean.clone()
        blocks.append(ours)
    return Network(blocks, name="sdnn")


def graded(shape, seed, batch=3, steps=16, step=1 / 8) -> torch.Tensor:
    """Signed graded input on slayer's 8-bit input grid (multiples of ``step`` in [-2, 2]),
    held a few steps."""
    n = round(2 / step)
    x = slayer_sdnn_zoo.raster(shape, seed, batch=batch, steps=steps, low=-n, high=n) * step
    return torch.tensor(x, dtype=torch.float32).reshape(batch, *shape, steps)


def slayer_run(net, x, record=False):
    outs = []
    for b in net.blocks:
        x = b(x)
        outs.append(x)
    return (x, outs) if record else x


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("train", [False, True])
def test_forward_equals_slayers_every_block(seed, train):
    ref, shape = slayer_sdnn_zoo.network(seed)
    ours = mirror(ref)
    ref.train(train), ours.train(train)
    x = graded(shape, seed)
    with torch.no_grad():
        want, blocks = slayer_run(ref, x, record=True)
        got, rec = ours(x, record=True)
    for k, (name, block) in enumerate(ours.blocks.items()):
        if name in rec and "spikes" in rec[name]:
            assert torch.equal(rec[name]["spikes"], blocks[k]), f"block {k} differs"
    assert torch.count_nonzero(blocks[1]) > 10 and torch.equal(got, want)
    for a, b in zip(ref.blocks, ours.blocks.values()):        # training updates the means
        norm = getattr(getattr(a, "neuron", None), "norm", None)
        if norm is not None:
            assert torch.equal(norm.running_mean, b.neuron.norm.running_mean)


def test_gradients_equal_slayers_weights_thresholds_and_input_transform():
    ref, shape = slayer_sdnn_zoo.network(3)
    for b in ref.blocks:                           # trainable thresholds, as requires_grad=True
        if hasattr(b, "neuron") and b.neuron is not None:
            b.neuron.delta.threshold.requires_grad_(True)
    ours = mirror(ref, requires_grad=True)
    ref.train(), ours.train()
    x = graded(shape, 3)
    target = torch.randn(x.shape[0], ref.blocks[-1].synapse.out_channels, x.shape[-1],
                         generator=torch.Generator().manual_seed(0))
    ((slayer_run(ref, x).reshape(target.shape) - target) ** 2).mean().backward()
    ((ours(x) - target) ** 2).mean().backward()
    pairs = []
    for a, b in zip(ref.blocks, ours.blocks.values()):
        if hasattr(a, "synapse"):
            pairs.append((a.synapse.weight.grad.reshape(b.synapse.weight.shape),
                          b.synapse.weight.grad))
        if getattr(a, "neuron", None) is not None and type(a).__name__ != "Output":
            pairs.append((a.neuron.delta.threshold.grad, b.neuron.threshold.grad))
        if type(a).__name__ == "Input" and a.weight is not None:
            pairs.append((a.weight.grad, b.weight.grad))
    assert len(pairs) >= 8
    for want, got in pairs:
        assert got is not None and torch.count_nonzero(want) > 0
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)


def _attrs(d: dict) -> dict:
    return {k: (np.asarray(v) if isinstance(v, np.ndarray | float) else v) for k, v in d.items()}


def _same_graph(mine, theirs):
    assert list(G.topological_order(mine)) == list(G.topological_order(theirs))
    assert mine.graph["inputs"] == theirs.graph["inputs"]
    assert mine.graph["outputs"] == theirs.graph["outputs"]
    for n in theirs.nodes:
        a, b = _attrs(mine.nodes[n]), _attrs(theirs.nodes[n])
        assert a.keys() == b.keys(), n
        for k in b:
            assert np.array_equal(a[k], b[k]) and np.shape(a[k]) == np.shape(b[k]), (n, k)
    ea = sorted((u, v, sorted(d)) for u, v, d in mine.edges(data=True))
    eb = sorted((u, v, sorted(d)) for u, v, d in theirs.edges(data=True))
    assert ea == eb
    for u, v, d in theirs.edges(data=True):
        for k, val in d.items():
            assert np.array_equal(mine.edges[u, v, 0][k], val), (u, v, k)


@pytest.mark.parametrize("seed", SEEDS)
def test_to_graph_is_the_graph_of_slayers_export(seed, tmp_path):
    ref, shape = slayer_sdnn_zoo.network(seed)
    ours = mirror(ref)
    ref.export_hdf5(tmp_path / "sdnn.net")
    _same_graph(ours.to_graph(shape), snnpipe.load(tmp_path / "sdnn.net"))


def assert_graph_runs_as_blocks(net: Network, g, x: torch.Tensor):
    """intsim-loihi on ``g``: population k answers at index t what block k answers at t when
    the blocks run with ``delay_shift`` on the input delayed one step (the Graph's latency 1 per
    projection; biases act from index 0 in both)."""
    batch, steps = x.shape[0], x.shape[-1]
    r = snnpipe.simulate(snnpipe.compile(g, "loihi"), x.reshape(batch, -1, steps).numpy(),
                         "intsim-loihi", record=True)
    shifts = {name: b.delay_shift for name, b in net.blocks.items() if hasattr(b, "delay_shift")}
    for name in shifts:
        net.blocks[name].delay_shift = True
    try:
        with torch.no_grad():
            _, rec = net(torch.cat([torch.zeros_like(x[..., :1]), x[..., :-1]], -1), record=True)
    finally:
        for name, shift in shifts.items():
            net.blocks[name].delay_shift = shift
    pops = [name for name, states in rec.items() if "spikes" in states]
    assert sorted(pops) == sorted(r.pops)
    for name in pops:
        unit = 2.0 ** 18 if g.nodes[name]["stage"] == "sigma" else 2.0 ** 12
        want = rec[name]["spikes"].reshape(batch, -1, steps).double().numpy() * unit
        assert np.array_equal(r.pops[name]["spikes"].reshape(batch, -1, steps), want), name
        assert np.count_nonzero(want), f"{name} is silent"


@pytest.mark.parametrize("seed", SEEDS)
def test_the_graph_runs_on_intsim_loihi_as_our_blocks(seed):
    ref, shape = slayer_sdnn_zoo.network(seed)
    ours = mirror(ref).eval()
    x = graded(shape, seed, batch=2, step=1)       # the simulators take integer rasters
    assert_graph_runs_as_blocks(ours, ours.to_graph(shape), x)


def test_float_precision_does_not_quantise_and_exports_as_given():
    p = {"threshold": 0.1, "activation": torch.nn.functional.relu, "precision": "float"}
    net = Network([sd.Input(p, weight=1.3), sd.Dense(p, 4, 3), sd.Output(p, 3, 2)])
    x = torch.linspace(-1.1, 1.3, 4 * 9).reshape(1, 4, 9)
    y = net(x)
    g = net.to_graph()
    w = net.blocks["layer1"].synapse.weight.detach().double().numpy()
    assert np.array_equal(g.edges["layer0", "layer1", 0]["weight"], w)
    assert float(g.nodes["layer1"]["threshold"]) == pytest.approx(0.1)
    r = snnpipe.simulate(snnpipe.compile(g, "graph"), x.double().numpy(), "torch-float")
    np.testing.assert_allclose(r.output[..., 3:], y[..., :-3].detach().numpy(), atol=1e-5)


def test_a_trained_network_exports_and_verifies_on_netx_lava_and_intsim(tmp_path):
    """Train our blocks (weights, MeanOnlyBatchNorm means) a few steps: the loss falls; the
    Graph (written in netx's layout and read back) runs on intsim-loihi as the blocks, and
    ``verify`` finds netx (the reference), torch-loihi, lava-fixed and intsim-loihi equal."""
    torch.manual_seed(0)
    p = {"threshold": 0.05, "activation": torch.nn.functional.relu,
         "norm": sd.MeanOnlyBatchNorm}
    net = Network([sd.Input(dict(p, norm=None), weight=0.25), sd.Conv(p, 2, 3, 3, padding=1),
                   sd.Flatten(), sd.Dense(p, 3 * 5 * 5, 8), sd.Output(p, 8, 2)], name="trained")
    x = graded((2, 5, 5), 1, batch=6, steps=12, step=1)
    target = torch.stack([x.mean((1, 2, 3)), -x.mean((1, 2, 3))], 1).cumsum(-1)
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    losses = []
    for _ in range(12):
        opt.zero_grad()
        loss = ((net(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.75 * losses[0], losses
    net.eval()
    snnpipe.save(net.to_graph(), tmp_path / "trained.net")
    g = snnpipe.load(tmp_path / "trained.net")
    assert_graph_runs_as_blocks(net, g, x[:2])
    report = snnpipe.verify(g, "loihi", inputs=x[:2].reshape(2, -1, 12).long().numpy(),
                            reference="netx")
    assert report.ok, report.text()
    assert "lava-fixed" in report.text() and "intsim-loihi" in report.text()


def test_training_in_lockstep_with_slayer_keeps_the_forward_equal():
    """SGD on both: thresholds leave the 1/64 grid (slayer compares the float threshold; so do
    we), weights move on slayer's 8-bit grid; every step's output stays equal."""
    ref, shape = slayer_sdnn_zoo.network(12)
    for b in ref.blocks:
        if getattr(b, "neuron", None) is not None:
            b.neuron.delta.threshold.requires_grad_(True)
    ours = mirror(ref, requires_grad=True)
    ref.train(), ours.train()
    x = graded(shape, 12)
    opt_ref = torch.optim.SGD([p for p in ref.parameters() if p.requires_grad], lr=0.05)
    opt_ours = torch.optim.SGD([p for p in ours.parameters() if p.requires_grad], lr=0.05)
    for step in range(4):
        want, got = slayer_run(ref, x), ours(x)
        assert torch.equal(got, want.reshape(got.shape)), f"step {step}"
        for opt, y in ((opt_ref, want), (opt_ours, got)):
            opt.zero_grad()
            (y.reshape(x.shape[0], -1, x.shape[-1])[..., -1] ** 2).mean().backward()
            opt.step()
    th = float(ours.blocks["layer1"].neuron.threshold)
    assert th * 64 != int(th * 64)                    # off the grid: the float compare is used


def test_quirk_slayers_sdnn_input_ignores_delay_shift_ours_honours_it():
    """slayer's ``sigma_delta.Input.forward`` has no step delay: ``delay_shift=True`` is
    ignored (its other blocks delay their output)."""
    p = {"threshold": 0.1, "activation": torch.nn.functional.relu}
    x = torch.ones(1, 2, 4)
    assert float(slayer.block.sigma_delta.Input(dict(p), delay_shift=True)(x)[0, 0, 0]) == 1.0
    assert float(sd.Input(dict(p), delay_shift=True)(x)[0, 0, 0]) == 0.0
    assert torch.equal(sd.Input(dict(p))(x), slayer.block.sigma_delta.Input(dict(p))(x))


def test_dense_with_delay_shift_and_a_set_bias_equals_slayer_and_exports_the_bias(tmp_path):
    """``neuron.set_bias`` as slayer's (per neuron, float): the same forward. Quirk: slayer's
    ``export_hdf5`` writes only a norm's mean as the bias, a set bias is lost; our to_graph
    keeps it."""
    import h5py

    p = {"threshold": 0.0625, "activation": torch.nn.functional.relu}
    torch.manual_seed(5)
    ref = slayer.block.sigma_delta.Dense(dict(p), 4, 3, delay_shift=True)
    ours = sd.Dense(dict(p), 4, 3, delay_shift=True)
    with torch.no_grad():
        ours.synapse.weight.copy_(ref.synapse.weight.reshape(3, 4))
    bias = torch.tensor([0.25, -0.125, 0.1])
    ref.neuron.set_bias(bias), ours.neuron.set_bias(bias)
    x = graded((4,), 5, batch=2)
    y = ours(x)
    assert torch.equal(y, ref(x)) and y[..., 0].abs().sum() == 0
    with h5py.File(tmp_path / "d.h5", "w") as f:
        ref.export_hdf5(f.create_group("l"))
        assert "bias" not in f["l"]
    g = G.new_graph("d")
    G.add_input(g, "in", (4,))
    ours.to_graph(g, "in", "d")
    assert np.array_equal(g.nodes["d"]["bias"], bias.double().numpy())


def test_pool_equals_slayers_forward_and_export(tmp_path):
    """Pool (kernel 2, stride = kernel, 2 channels of 4x6) in a chain Input, Conv, Pool,
    Flatten, Dense, Output: slayer's forward and its export's Graph."""
    from slayer_zoo import Net

    s = slayer.block.sigma_delta
    torch.manual_seed(7)

    def p(th):
        return {"threshold": th, "activation": torch.nn.functional.relu}

    ref = Net([s.Input(p(0.05)), s.Conv(p(0.03), 1, 2, 3, padding=1, weight_scale=2),
               s.Pool(p(0.02), 2), s.Flatten(), s.Dense(p(0.04), 12, 5, weight_scale=2),
               s.Output(p(0.1), 5, 2)]).eval()
    ours = mirror(ref)
    x = graded((1, 4, 6), 7)
    with torch.no_grad():
        want, blocks = slayer_run(ref, x, record=True)
        got, rec = ours(x, record=True)
    assert torch.count_nonzero(blocks[2]) > 10 and torch.equal(rec["layer2"]["spikes"], blocks[2])
    assert torch.equal(got, want)
    ref.export_hdf5(tmp_path / "pool.net")
    _same_graph(ours.to_graph((1, 4, 6)), snnpipe.load(tmp_path / "pool.net"))
    with pytest.raises(snnpipe.pipeline.ir.errors.GraphError):
        sd.Pool(p(0.02), 3)(torch.zeros(1, 2, 4, 6, 3))        # windows across channels


def test_axonal_delays_equal_slayers_forward_quirk_netx_reads_them_a_layer_early(tmp_path):
    """Dense(delay=True): our forward is slayer's. slayer's forward delays block k's output
    (the synapses out of layer k, per source neuron); netx reads the ``delay`` slayer exports
    for layer k as the delays of layer k's own input synapses (per output neuron: hdf5.py
    'axonal delays to syn'), one layer early. Our to_graph puts them where slayer's forward
    has them: that Graph runs as the blocks; the Graph of slayer's file does not."""
    from slayer_zoo import Net

    s = slayer.block.sigma_delta
    p = {"threshold": 0.05, "activation": torch.nn.functional.relu}
    torch.manual_seed(11)
    ref = Net([s.Input(dict(p)), s.Dense(dict(p), 4, 3, weight_scale=2, delay=True),
               s.Output(dict(p), 3, 2, weight_scale=2)])
    x = graded((4,), 11, step=1)
    ref(x)                                                   # slayer initialises delays lazily
    ref.blocks[1].delay.delay.data = torch.tensor([0.5, 2.0, 3.7])
    ours = mirror(ref)
    ours.blocks["layer1"] = sd.Dense(dict(p), 4, 3, delay=True)
    with torch.no_grad():
        ours.blocks["layer1"].synapse.weight.copy_(ref.blocks[1].synapse.weight.reshape(3, 4))
        ours.blocks["layer1"].delay.copy_(ref.blocks[1].delay.delay)
        assert torch.equal(ours(x), ref(x))
    g = ours.to_graph((4,))
    assert np.array_equal(g.edges["layer1", "layer2", 0]["delay"], [[0, 2, 3]] * 2)
    assert_graph_runs_as_blocks(ours, g, x)
    ref.export_hdf5(tmp_path / "delay.net")
    netx = snnpipe.load(tmp_path / "delay.net")
    assert np.array_equal(netx.edges["layer0", "layer1", 0]["delay"], [[0] * 4, [2] * 4, [3] * 4])
    with pytest.raises(AssertionError, match=r"^layer1\n"):      # layer1's messages differ
        assert_graph_runs_as_blocks(ours, netx, x)
