"""The fused CUBA kernel (snnpipe.models.kernels.cuba_fused, numba on the CPU) equals the
reference sequence functions (its specification), and the dispatcher picks it.

Values: loihi and xylo bit for bit (spikes, u, v, final state); float the same float32
operations in the same order, so equal too. Gradients w.r.t. the input and every trainable
parameter (current and voltage decays, threshold, bias): equal up to float32 summation order.
"""
import pytest
import torch
from kernel_checks import (CROSSCHECK, PRECISIONS, compare, draw, draw_xylo_readout,
                           xylo_readout_resets)

pytest.importorskip("numba", reason="the fused CPU kernel needs numba (pip install numba)")

from snnpipe.models import kernels  # noqa: E402
from snnpipe.models.kernels.cuba_fused import cuba_fused, supports  # noqa: E402
from snnpipe.models.networks import oxford  # noqa: E402
from snnpipe.models.neurons import cuba_xylo  # noqa: E402
from snnpipe.models.neurons.cuba_loihi import cuba_loihi  # noqa: E402
from snnpipe.models.neurons.registry import PRECISIONS as NEURONS  # noqa: E402
from snnpipe.models.neurons.state import CubaParams, CubaState  # noqa: E402
from snnpipe.models.surrogate import FastSigmoid, Sigmoid, SlayerExp  # noqa: E402

CASES = [(prec, spike, reset, seed) for prec in PRECISIONS
         for spike, reset in (("binary", "zero"), ("multi", "subtract"), ("binary", "subtract"),
                              ("multi", "zero"))
         for seed in range(2)]


@pytest.mark.parametrize("precision,spike,reset,seed", CASES)
def test_fused_equals_reference(precision, spike, reset, seed):
    x, p, leaves = draw(seed, spike, reset)
    assert supports(x, p, None, precision)
    ref = NEURONS[precision].sequence(x, p)
    fused = cuba_fused(x, p, None, precision)
    assert ref[0].sum() > 0, "the case should spike"
    compare(ref, fused, leaves, seed)


class _Triangle:
    """A surrogate the kernel does not know: its derivative is applied with torch ops."""

    def derivative(self, x, theta=None):
        return (1 - x.abs() / 0.5).clamp_min(0) / 0.5


SURROGATES = [Sigmoid(4.0), FastSigmoid(7.0), SlayerExp(0.5, 2.0), _Triangle()]
# each (surrogate kind, precision) is a backward variant of its own; the suite runs SLAYER's
# (the networks' flag: no new variant) with every precision and each other kind once
SURROGATE_SUITE = {(2, "loihi"), (2, "float"), (2, "xylo"), (0, "loihi"), (1, "float"),
                   (3, "xylo")}


@pytest.mark.parametrize("surrogate,precision", [
    pytest.param(SURROGATES[i], prec, id=f"surrogate{i}-{prec}",
                 marks=() if (i, prec) in SURROGATE_SUITE else CROSSCHECK)
    for prec in PRECISIONS for i in range(len(SURROGATES))])
def test_surrogates(precision, surrogate):
    x, p, leaves = draw(5, "binary", "zero", surrogate=surrogate)
    compare(NEURONS[precision].sequence(x, p), cuba_fused(x, p, None, precision), leaves, 5)


@pytest.mark.parametrize("precision", [pytest.param(prec, marks=() if prec == "float"
                                                    else CROSSCHECK) for prec in PRECISIONS])
def test_leaky_integrator_without_threshold(precision):
    """Without threshold (the readouts): float in the suite (its forward variant is the
    networks' readout's), the integer precisions under crosscheck."""
    x, p, leaves = draw(3, threshold=False)
    compare(NEURONS[precision].sequence(x, p), cuba_fused(x, p, None, precision), leaves, 3)


def test_xylo_readout_resets_at_state_max():
    """A xylo leaky integrator driven into saturation: the chip's output neuron whose threshold
    is STATE_MAX, reset by it several times; v (after the reset), u, the final state bit for
    bit and the gradients (reset ignored) as the reference, also split in two halves."""
    x, p, state, leaves = draw_xylo_readout()
    ref = cuba_xylo.cuba_xylo(x, p, state)
    fused = cuba_fused(x, p, state, "xylo")
    resets = xylo_readout_resets(p, state, ref)
    assert (resets[:3] >= 10).all() and resets.sum() > 40, resets
    assert torch.equal(xylo_readout_resets(p, state, fused), resets)
    compare(ref, fused, leaves, 7)
    half = x.shape[-1] // 2
    first = cuba_fused(x[..., :half], p, state, "xylo")
    second = cuba_fused(x[..., half:], p, CubaState(*(t.detach() for t in first[3])), "xylo")
    assert torch.equal(torch.cat([first[2], second[2]], -1), ref[2])
    assert torch.equal(second[3].v, ref[3].v)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_initial_state_and_continuation(precision):
    """A sequence split in two halves (the state carried over) equals the whole sequence."""
    x, p, _ = draw(4, "multi", "subtract")
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
    x, p, _ = draw(1)
    assert kernels.select(x, p, None, "loihi") is cuba_fused
    assert kernels.select(x, p, None, "loihi", kernel="reference") is None
    assert kernels.select(x, p, None, "xylo") is cuba_fused
    refractory = CubaParams(p.current_decay, p.voltage_decay, p.threshold, p.bias,
                                 refractory=2)
    assert kernels.select(x, refractory, None, "float") is None
    assert kernels.select(x.double(), p, None, "float") is None


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
    x, p, _ = draw(seed, spike, reset)
    dev = torch.device("cuda")
    x = x.detach().to(dev).requires_grad_()
    leaves = [t.detach().to(dev).requires_grad_() for t in (p.current_decay, p.voltage_decay,
                                                            p.threshold, p.bias)]
    p = CubaParams(*leaves, reset=reset, spike=spike, surrogate=p.surrogate)
    assert supports(x, p, None, precision)
    assert kernels.select(x, p, None, precision) is cuba_fused
    compare(NEURONS[precision].sequence(x, p), cuba_fused(x, p, None, precision, impl=impl),
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
        compare(NEURONS[precision].sequence(x, p), cuba_fused(x, p, None, precision, impl=impl),
                 [x, *leaves], b + n)
