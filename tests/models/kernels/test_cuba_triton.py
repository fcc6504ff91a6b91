"""The Triton CUBA kernels (snnpipe.models.kernels.cuba_triton) behind the fused Function and
in networks, the interpreter glue (snnpipe.models.kernels.triton_runtime), and the import
without triton.

On the CPU the kernels run through Triton's interpreter (numpy): values as the reference
sequence functions / the numba kernels, gradients up to float32 rounding. On a CUDA device
the compiled kernels are compared with the numba CPU kernel.
"""
import subprocess
from pathlib import Path

import pytest
import torch

triton = pytest.importorskip("triton", reason="the Triton kernels need triton (pip install "
                             "triton; it comes with torch's CUDA wheels)")

from kernel_checks import (FLAGS, PRECISIONS, compare, draw_small, draw_xylo_readout,  # noqa: E402
                           kernel_args, loss, xylo_readout_resets)

from snnpipe.models.kernels import cuba_fused as cf  # noqa: E402
from snnpipe.models.kernels import cuba_triton as ct  # noqa: E402
from snnpipe.models.neurons.registry import PRECISIONS as NEURONS  # noqa: E402
from snnpipe.models.neurons.state import CubaParams, CubaState  # noqa: E402

# the 2.3.1 interpreter converts 1-element arrays with int() (numpy >= 1.25 warns)
pytestmark = pytest.mark.filterwarnings("ignore:Conversion of an array with ndim > 0:"
                                        "DeprecationWarning")
SMALL = dict(depth=4, block=16)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_through_the_autograd_function(precision, monkeypatch):
    """``cuba_fused(impl="triton")`` (FusedCuba with the Triton kernels; small launches):
    values and every leaf gradient as the reference sequence function."""
    x, p, state, leaves = draw_small(21, 2, 2, 5, 9, "multi", "subtract")
    forward, backward = ct.forward, ct.backward
    monkeypatch.setattr(ct, "forward", lambda *a: forward(*a, **SMALL))
    monkeypatch.setattr(ct, "backward", lambda *a: backward(*a, **SMALL))
    compare(NEURONS[precision].sequence(x, p), cf.cuba_fused(x, p, None, precision,
                                                            impl="triton"), leaves, 21)


def test_xylo_readout_resets_at_state_max(monkeypatch):
    """A saturated xylo leaky integrator (reset by STATE_MAX several times) through
    ``cuba_fused(impl="triton")``: values bit for bit and gradients as the reference."""
    x, p, state, leaves = draw_xylo_readout()
    forward, backward = ct.forward, ct.backward
    monkeypatch.setattr(ct, "forward", lambda *a: forward(*a, **SMALL))
    monkeypatch.setattr(ct, "backward", lambda *a: backward(*a, **SMALL))
    fused = cf.cuba_fused(x, p, state, "xylo", impl="triton")
    assert xylo_readout_resets(p, state, fused).sum() > 40
    compare(NEURONS["xylo"].sequence(x, p, state), fused, leaves, 7)


def test_interpreter_leaves_triton_language_unpatched():
    """The interpreter patches triton.language while it runs; compiled kernels need the
    original builtins afterwards."""
    tl = triton.language
    before = (tl.load, tl.where, tl.tensor.__add__, tl.math.exp, tl.tensor.__dict__.get("__bool__"))
    x, p, state, _ = draw_small(1, 1, 1, 3, 2)
    ct.forward(*kernel_args(x, p, state, "float"), **SMALL)
    assert (tl.load, tl.where, tl.tensor.__add__, tl.math.exp,
            tl.tensor.__dict__.get("__bool__")) == before


def test_imports_without_triton():
    import sys
    code = ("import sys; sys.modules['triton'] = None\n"
            "from snnpipe.models.kernels import cuba_fused, cuba_triton as ct, triton_compile\n"
            "from snnpipe.models.kernels import triton_runtime as rt\n"
            "assert not ct.available() and rt.triton is None\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=Path(__file__).resolve().parents[2])
    assert r.returncode == 0, r.stderr


# --- compiled kernels on a GPU ---------------------------------------------------------------

@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("spike,reset", FLAGS)
@pytest.mark.parametrize("n_k,n_t", [(1, 300), (2, 77)])
def test_cuda_kernels_equal_numba(precision, spike, reset, n_k, n_t):
    """Compiled kernels (through FusedCuba on CUDA tensors) against the numba CPU kernel:
    values bit for bit (loihi integers; float: no FMA, IEEE division), gradients up to
    float32 rounding. 4 x 301 columns: several programs, a partly masked last block."""
    x, p, state, leaves = draw_small(n_t + n_k, 4, n_k, 301, n_t, spike, reset)
    ref = cf.cuba_fused(x, p, state, precision, impl="numba")
    dev = torch.device("cuda")
    leaves_d = [t.detach().to(dev).requires_grad_() for t in leaves]
    x_d, rest = leaves_d[0], leaves_d[1:]
    p_d = CubaParams(*rest, reset=reset, spike=spike, surrogate=p.surrogate)
    state_d = CubaState(*(t.to(dev) for t in state))
    out = cf.cuba_fused(x_d, p_d, state_d, precision)        # CUDA tensors: triton
    for name, a, b in zip(("s", "u", "v"), ref[:3], out[:3]):
        assert torch.equal(a, b.cpu()), f"{name}: {(a != b.cpu()).sum().item()} differ"
    assert torch.equal(ref[3].v, out[3].v.cpu())
    g_ref = torch.autograd.grad(loss(ref, 0), leaves)
    out_cpu = (out[0].cpu(), out[1].cpu(), out[2].cpu(),
               CubaState(*(t.cpu() for t in out[3])))
    # the loss's random weights are drawn on the CPU; the gradient flows back to the GPU
    g_out = torch.autograd.grad(loss(out_cpu, 0), leaves_d)
    for i, (a, b) in enumerate(zip(g_ref, g_out)):
        scale = a.abs().max().item() + 1e-6
        assert torch.allclose(a, b.cpu(), rtol=1e-4, atol=1e-5 * scale), i


@pytest.mark.parametrize("precision", ["loihi", "xylo"])
def test_network_step_through_triton_equals_numba(precision, monkeypatch):
    """A whole training step of a small network (blocks, shifts, quantised weights) with every
    layer on the Triton kernels (interpreted) gives the numba kernels' outputs and gradients."""
    from snnpipe.models.networks import SynNet, oxford
    torch.manual_seed(3)
    if precision == "loihi":
        net, x = oxford(20, 24, 10), (torch.rand(2, 20, 12) < 0.3).float()
    else:
        net = SynNet(6, 3, size_hidden_layers=(10,), time_constants_per_layer=(2,),
                     threshold=0.2, precision="xylo")
        x = (torch.rand(2, 6, 12) < 0.4).float()
    fused, calls = cf.cuba_fused, []
    results = []
    for impl in ("numba", "triton"):
        monkeypatch.setattr(cf, "cuba_fused", lambda x_, p, state=None, prec="loihi", impl_=None,
                            _impl=impl: (calls.append(_impl), fused(x_, p, state, prec,
                                                                    impl=_impl))[1])
        net.zero_grad()
        out = net(x)
        (out * torch.linspace(-1, 1, x.shape[-1])).sum().backward()
        results.append((out.detach(), [q.grad.clone() for q in net.parameters()
                                       if q.grad is not None]))
    assert calls.count("triton") == calls.count("numba") == 2
    (out_n, g_n), (out_t, g_t) = results
    assert torch.equal(out_n, out_t) and out_n.sum() > 0
    assert len(g_n) == len(g_t) > 0
    for a, b in zip(g_n, g_t):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6 * (a.abs().max().item() + 1e-6))
