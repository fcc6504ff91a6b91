"""The fused CUBA kernel equals the reference sequence functions (its specification).

Values: loihi and xylo bit for bit (spikes, u, v, final state); float the same float32
operations in the same order, so equal too. Gradients w.r.t. the input and every trainable
parameter (current and voltage decays, threshold, bias): equal up to float32 summation order.
"""
import pytest
import torch
from kernel_checks import compare as _compare

pytest.importorskip("numba", reason="the fused CPU kernel needs numba (pip install numba)")

from snnpipe.models import kernels  # noqa: E402
from snnpipe.models.kernels.cuba_fused import cuba_fused, supports  # noqa: E402
from snnpipe.models.networks import oxford  # noqa: E402
from snnpipe.models.neurons import cuba_xylo  # noqa: E402
from snnpipe.models.neurons.cuba_loihi import cuba_loihi  # noqa: E402
from snnpipe.models.neurons.registry import PRECISIONS as NEURONS  # noqa: E402
from snnpipe.models.neurons.state import CubaParams, CubaState, initial_state  # noqa: E402
from snnpipe.models.surrogate import FastSigmoid, Sigmoid, SlayerExp  # noqa: E402

PRECISIONS = ["loihi", "float", "xylo"]
CASES = [(prec, spike, reset, seed) for prec in PRECISIONS
         for spike, reset in (("binary", "zero"), ("multi", "subtract"), ("binary", "subtract"),
                              ("multi", "zero"))
         for seed in range(2)]


def _draw(seed: int, spike="binary", reset="zero", threshold=True, surrogate=None):
    """Random shapes, per-neuron or scalar parameters (leaves requiring grad) and input."""
    g = torch.Generator().manual_seed(seed)
    b, k, n = (int(v) for v in torch.randint(1, 5, (3,), generator=g))
    k, n, t = min(k, 3), 2 * n, int(torch.randint(20, 60, (1,), generator=g))
    per_neuron = seed % 2 == 0
    cd = torch.rand(k, n if per_neuron else 1, generator=g)
    vd = torch.rand(n if per_neuron else (), generator=g) * 0.5
    th = 0.2 + torch.rand(n if per_neuron else (), generator=g)
    bias = 0.05 * torch.randn(n if per_neuron else (), generator=g)
    leaves = [v.clone().requires_grad_() for v in (cd, vd, th, bias)]
    x = (0.4 * torch.randn(b, k, n, t, generator=g)).requires_grad_()
    p = CubaParams(leaves[0], leaves[1], leaves[2] if threshold else None, leaves[3],
                   reset=reset, spike=spike, surrogate=surrogate or SlayerExp(1.0, 1.0))
    return x, p, [x, *(leaves if threshold else leaves[:2] + leaves[3:])]


@pytest.mark.parametrize("precision,spike,reset,seed", CASES)
def test_fused_equals_reference(precision, spike, reset, seed):
    x, p, leaves = _draw(seed, spike, reset)
    assert supports(x, p, None, precision)
    ref = NEURONS[precision].sequence(x, p)
    fused = cuba_fused(x, p, None, precision)
    assert ref[0].sum() > 0, "the case should spike"
    _compare(ref, fused, leaves, seed)


class _Triangle:
    """A surrogate the kernel does not know: its derivative is applied with torch ops."""

    def derivative(self, x, theta=None):
        return (1 - x.abs() / 0.5).clamp_min(0) / 0.5


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("surrogate", [Sigmoid(4.0), FastSigmoid(7.0), SlayerExp(0.5, 2.0),
                                       _Triangle()])
def test_surrogates(precision, surrogate):
    x, p, leaves = _draw(5, "binary", "zero", surrogate=surrogate)
    _compare(NEURONS[precision].sequence(x, p), cuba_fused(x, p, None, precision), leaves, 5)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_leaky_integrator_without_threshold(precision):
    x, p, leaves = _draw(3, threshold=False)
    _compare(NEURONS[precision].sequence(x, p), cuba_fused(x, p, None, precision), leaves, 3)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_initial_state_and_continuation(precision):
    """A sequence split in two halves (the state carried over) equals the whole sequence."""
    x, p, _ = _draw(4, "multi", "subtract")
    g = torch.Generator().manual_seed(9)
    b, k, n, _ = x.shape
    state = CubaState(torch.randint(-3000, 3000, (b, k, n), generator=g) / 4096,
                           torch.randint(-3000, 3000, (b, n), generator=g) / 4096,
                           torch.zeros(b, n, dtype=torch.int64))
    ref = NEURONS[precision].sequence(x, p, state)
    half = x.shape[-1] // 2
    first = cuba_fused(x[..., :half], p, state, precision)
    second = cuba_fused(x[..., half:], p, CubaState(*(t.detach() for t in first[3])),
                        precision)
    assert torch.equal(torch.cat([first[0], second[0]], -1), ref[0])
    assert torch.equal(torch.cat([first[2], second[2]], -1), ref[2])
    assert torch.equal(second[3].v, ref[3].v) and torch.equal(second[3].u, ref[3].u)


def test_loihi_wrap_and_saturation_match():
    """Inputs large enough to wrap u and saturate v at 24 bits."""
    x = torch.full((1, 2, 3, 6), 1500.0)
    x[:, 1] = -2100.0
    p = CubaParams(torch.tensor([[0.0], [0.01]]), torch.tensor(0.0), torch.tensor(3000.0))
    ref, fused = cuba_loihi(x, p), cuba_fused(x, p, None, "loihi")
    for a, b in zip(ref[:3], fused[:3]):
        assert torch.equal(a, b)
    assert (ref[2].abs() * 4096 == 2 ** 23 - 1).any()


def test_xylo_saturation_shifts_and_thresholds_match():
    """16-bit saturation of currents and membrane, the extreme shifts (dash 0 clears a current,
    dash 15), thresholds at and below zero (fire at the cap whenever V >= theta), the cap of
    31 spikes, inputs off the 1/1024 grid (rounded half to even)."""
    x = torch.full((2, 2, 4, 40), 30.0)
    x[:, 1, 2:] = -31.0
    x[1, :, :, 5:] = 0.5 / 1024 + torch.arange(35) / 512     # ties of the rounding
    cd = torch.tensor([[1.0, 2.0 ** -15, 0.5, 0.03]] * 2)
    vd = torch.tensor([0.0, 2.0 ** -15, 0.25, 1.0])
    for spike in ("multi", "binary"):
        th = torch.tensor([0.5, 0.0, -0.25, 1e-3])
        p = CubaParams(cd, vd, th, torch.tensor([0.1, -31.0, 0.0, 31.0]), spike=spike)
        ref, fused = cuba_xylo.cuba_xylo(x, p), cuba_fused(x, p, None, "xylo")
        for a, b in zip(ref[:3], fused[:3]):
            assert torch.equal(a, b)
        assert torch.equal(ref[3].v, fused[3].v)
        assert (ref[1].abs() * 1024 >= 32766).any() and (ref[2].abs() * 1024 >= 32767).any()
    assert (ref[0] == 1).any() and (fused[0] <= 1).all()


def test_dispatch_selects_fused_and_falls_back():
    x, p, _ = _draw(1)
    assert kernels.select(x, p, None, "loihi") is cuba_fused
    assert kernels.select(x, p, None, "loihi", kernel="reference") is None
    assert kernels.select(x, p, None, "xylo") is cuba_fused
    refractory = CubaParams(p.current_decay, p.voltage_decay, p.threshold, p.bias,
                                 refractory=2)
    assert kernels.select(x, refractory, None, "float") is None
    assert kernels.select(x.double(), p, None, "float") is None


def test_oxford_blocks_equal_with_either_kernel(monkeypatch):
    """A whole training step of the Oxford net: same spikes, same weight and decay gradients."""
    torch.manual_seed(0)
    net = oxford(20, 24, 10)
    x = (torch.rand(2, 20, 80) < 0.2).float()
    results = []
    for kernel in ("reference", "fused"):
        monkeypatch.setenv(kernels.ENV, kernel)
        net.zero_grad()
        out = net(x)
        (out * torch.linspace(-1, 1, 80)).sum().backward()
        grads = [q.grad.clone() for q in net.parameters() if q.requires_grad]
        results.append((out.detach(), grads))
    (out_ref, g_ref), (out_fused, g_fused) = results
    assert torch.equal(out_ref, out_fused) and out_ref.sum() > 0
    for a, b in zip(g_ref, g_fused):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6 * (a.abs().max().item() + 1e-6))


def test_parallel_kernel_threads_give_the_same_result(monkeypatch):
    """``SNNPIPE_KERNEL_THREADS=0`` (all of numba's threads) computes what one thread does."""
    from snnpipe.models.kernels import cuba_numba
    x, p, leaves = _draw(6, "multi", "subtract")
    monkeypatch.setenv(cuba_numba.THREADS_ENV, "0")
    assert cuba_numba.set_threads() >= 1
    _compare(cuba_loihi(x, p), cuba_fused(x, p, None, "loihi"), leaves, 6)


# --- the torch-ops implementation (the CUDA path), checked on the CPU -----------------------

@pytest.mark.parametrize("precision,spike,reset,seed", CASES[::2])
def test_torch_loop_equals_reference(precision, spike, reset, seed):
    """``impl="torch"`` (the time loop of elementwise ops CUDA tensors run) on the CPU."""
    x, p, leaves = _draw(seed, spike, reset)
    _compare(NEURONS[precision].sequence(x, p), cuba_fused(x, p, None, precision, impl="torch"),
             leaves, seed)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_torch_loop_without_threshold_and_other_surrogate(precision):
    x, p, leaves = _draw(3, threshold=False)
    _compare(NEURONS[precision].sequence(x, p), cuba_fused(x, p, None, precision, impl="torch"),
             leaves, 3)
    x, p, leaves = _draw(5, surrogate=FastSigmoid(7.0))
    _compare(NEURONS[precision].sequence(x, p), cuba_fused(x, p, None, precision, impl="torch"),
             leaves, 5)


def _to(out, device):
    s, u, v, final = out
    return (None if s is None else s.to(device), u.to(device), v.to(device),
            CubaState(*(t.to(device) for t in final)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision,spike,reset,seed", CASES)
@pytest.mark.parametrize("impl", ["triton", "torch"])
def test_cuda_fused_equals_reference(precision, spike, reset, seed, impl):
    """On a GPU the fused Function runs the Triton kernels (the torch loop where triton is
    missing); the reference runs on the GPU too."""
    from snnpipe.models.kernels import cuba_triton
    if impl == "triton" and not cuba_triton.available():
        pytest.skip("triton is not installed")
    x, p, _ = _draw(seed, spike, reset)
    dev = torch.device("cuda")
    x = x.detach().to(dev).requires_grad_()
    leaves = [t.detach().to(dev).requires_grad_() for t in (p.current_decay, p.voltage_decay,
                                                            p.threshold, p.bias)]
    p = CubaParams(*leaves, reset=reset, spike=spike, surrogate=p.surrogate)
    assert supports(x, p, None, precision)
    assert kernels.select(x, p, None, precision) is cuba_fused
    _compare(NEURONS[precision].sequence(x, p), cuba_fused(x, p, None, precision, impl=impl),
             [x, *leaves], seed)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_oxford_step_equals_cpu():
    """A whole Oxford training step on the GPU gives the CPU's spikes (loihi: exact)."""
    torch.manual_seed(0)
    net = oxford(20, 24, 10)
    x = (torch.rand(2, 20, 80) < 0.2).float()
    out_cpu = net(x)
    (out_cpu * torch.linspace(-1, 1, 80)).sum().backward()
    g_cpu = [q.grad.clone() for q in net.parameters() if q.requires_grad]
    net.zero_grad()
    net = net.cuda()
    out = net(x.cuda())
    (out * torch.linspace(-1, 1, 80, device="cuda")).sum().backward()
    assert torch.equal(out.cpu(), out_cpu)
    for a, b in zip(g_cpu, [q.grad.cpu() for q in net.parameters() if q.requires_grad]):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6 * (a.abs().max().item() + 1e-6))


# --- shapes around the kernel's chunking and vector widths ---------------------------------

@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("shape", [(1, 1, 1, 3), (3, 1, 97, 17), (2, 2, 300, 9), (5, 3, 61, 4),
                                   (3, 1, 400, 6), (2, 2, 1100, 3)])
def test_random_shapes(precision, shape):
    """Batch * neurons below and above the kernel's chunk of columns (MAX_CHUNK), odd sizes."""
    b, k, n, t = shape
    g = torch.Generator().manual_seed(b * 1000 + n)
    x = (0.5 * torch.randn(b, k, n, t, generator=g)).requires_grad_()
    leaves = [torch.rand(k, n, generator=g).requires_grad_(),
              (0.5 * torch.rand(n, generator=g)).requires_grad_(),
              (0.2 + torch.rand(n, generator=g)).requires_grad_(),
              (0.05 * torch.randn(n, generator=g)).requires_grad_()]
    p = CubaParams(*leaves, reset="subtract", spike="multi")
    for impl in ("numba", "torch"):
        _compare(NEURONS[precision].sequence(x, p), cuba_fused(x, p, None, precision, impl=impl),
                 [x, *leaves], b + n)


def test_fast_exp_matches_torch():
    """The vectorisable exp of SLAYER's surrogate in the backward kernel."""
    from numba import njit
    from snnpipe.models.kernels.cuba_numba import exp_neg
    f = njit(lambda a: [exp_neg(v) for v in a])
    x = -torch.cat([torch.linspace(0, 85, 20001), 3 * torch.rand(5000)])
    y = torch.tensor(f(x.numpy()))
    assert torch.allclose(y, torch.exp(x.double()).float(), rtol=3e-7, atol=0)


# --- sparse projections of spikes (snnpipe.models.kernels.spike_dense) -----------------------------

def _quantised_weight(n_out, n_in, seed):
    from snnpipe.models.ste import quantize_weight_8bit
    g = torch.Generator().manual_seed(seed)
    return quantize_weight_8bit(torch.randn(n_out, n_in, generator=g)).detach().requires_grad_()


@pytest.mark.parametrize("time_major", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_spike_projection_equals_matmul(time_major, seed):
    """Values bit for bit (quantised weights, integer counts), gradients as the matmul's."""
    from snnpipe.models.kernels import spike_dense
    g = torch.Generator().manual_seed(seed)
    b, c, n, t = (int(v) for v in torch.randint(1, 40, (4,), generator=g))
    counts = (torch.rand(b, c, t, generator=g) < 0.05) * torch.randint(1, 4, (b, c, t), generator=g)
    x = counts.float()
    if time_major:      # the (T, B, C) memory the kernels and shifts produce
        x = x.permute(2, 0, 1).contiguous().permute(1, 2, 0)
    x.requires_grad_()
    w = _quantised_weight(n, c, seed)
    z = spike_dense.project(x, w)
    assert z is not None and z.shape == (b, n, t)
    x_ref, w_ref = x.detach().clone().requires_grad_(), w.detach().clone().requires_grad_()
    z_ref = torch.matmul(w_ref, x_ref)
    assert torch.equal(z, z_ref)
    gz = torch.randn(b, n, t, generator=g)
    (z * gz).sum().backward()
    (z_ref * gz).sum().backward()
    assert torch.allclose(w.grad, w_ref.grad, rtol=1e-5, atol=1e-5)
    assert torch.allclose(x.grad, x_ref.grad, rtol=1e-5, atol=1e-5)


def test_spike_projection_declines():
    """Non-integer inputs, weights off the 1/64 grid, dense inputs: None (dense matmul)."""
    from snnpipe.models.kernels import spike_dense
    x = (torch.rand(2, 10, 50) < 0.05).float()
    w = _quantised_weight(4, 10, 0)
    assert spike_dense.project(x, w) is not None
    assert spike_dense.project(x * 0.5, w) is None
    assert spike_dense.project(x, w + 1e-3) is None
    assert spike_dense.project(torch.ones(2, 10, 50), w) is None
    assert spike_dense.project(x.double(), w.double()) is None


def test_shift_keeps_layout_and_equals_cat():
    from snnpipe.models.block.base import shift
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 40, 4, generator=g).permute(1, 2, 0).requires_grad_()   # (B, C, T) view
    y = shift(x, 2)
    assert y.stride() == x.stride()
    ref = torch.cat([torch.zeros(x.shape[0], x.shape[1], 2), x[..., :-2]], -1)
    assert torch.equal(y, ref)
    gy = torch.randn(y.shape, generator=g)
    (gx,) = torch.autograd.grad((y * gy).sum(), x)
    (gx_ref,) = torch.autograd.grad((ref * gy).sum(), x)
    assert torch.equal(gx, gx_ref)


def _assert_same_step_with_either_kernel(net, x, monkeypatch):
    """One forward and backward with the reference loop and with the fused kernels: the same
    outputs, gradients equal up to float32 summation order."""
    results = []
    for kernel in ("reference", "fused"):
        monkeypatch.setenv(kernels.ENV, kernel)
        net.zero_grad()
        out = net(x)
        (out * torch.linspace(-1, 1, x.shape[-1])).sum().backward()
        results.append((out.detach(), [q.grad.clone() for q in net.parameters()
                                       if q.grad is not None]))
    (out_ref, g_ref), (out_fused, g_fused) = results
    assert torch.equal(out_ref, out_fused) and out_ref.abs().sum() > 0
    assert len(g_ref) == len(g_fused) > 0
    for a, b in zip(g_ref, g_fused):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5 * (a.abs().max().item() + 1e-6))


def test_xylo_synnet_blocks_equal_with_either_kernel(monkeypatch):
    """The xylo precision in a network (quantised weights, decays as shifts, multi-spike
    hidden layers; trainable decays and thresholds)."""
    from snnpipe.models.networks import SynNet
    torch.manual_seed(2)
    net = SynNet(6, 3, size_hidden_layers=(10, 10), time_constants_per_layer=(2, 4),
                 threshold=0.2, train_time_constants=True, train_threshold=True,
                 precision="xylo")
    _assert_same_step_with_either_kernel(net, (torch.rand(3, 6, 50) < 0.3).float(), monkeypatch)


def test_wavesense_blocks_equal_with_either_kernel(monkeypatch):
    """Float precision, multi-spikes, subtractive reset, two synaptic currents (MultiDense)."""
    from snnpipe.models.networks import WaveSenseNet
    torch.manual_seed(1)
    net = WaveSenseNet(dilations=(2, 4), n_classes=2, n_channels_in=6, n_channels_res=8,
                       n_channels_skip=8, n_hidden=8, threshold=0.3)
    _assert_same_step_with_either_kernel(net, (torch.rand(3, 6, 60) < 0.3).float(), monkeypatch)


def test_shift_of_kernel_spikes_is_a_view():
    """The fused kernel's spikes sit after a zero row of their buffer: the one-step output
    delay is a view of it (no copy), with the values and gradient of the copying shift."""
    from snnpipe.models.block.base import shift
    x, p, _ = _draw(2)
    s = cuba_fused(x, p, None, "float")[0]
    y = shift(s, 1)
    assert y.untyped_storage().data_ptr() == s.untyped_storage().data_ptr()
    ref = torch.cat([torch.zeros_like(s[..., :1]), s[..., :-1]], -1)
    assert torch.equal(y, ref)
    gy = torch.randn(y.shape, generator=torch.Generator().manual_seed(0))
    (gx,) = torch.autograd.grad((y * gy).sum(), x, retain_graph=True)
    (gx_ref,) = torch.autograd.grad((ref * gy).sum(), x)
    assert torch.allclose(gx, gx_ref, rtol=1e-6, atol=1e-7)
    # a tensor whose storage merely has room before it is copied, not viewed
    big = torch.zeros(10, 3, 4)
    z = big[2:].permute(1, 2, 0)
    assert shift(z, 1).untyped_storage().data_ptr() != big.untyped_storage().data_ptr()
