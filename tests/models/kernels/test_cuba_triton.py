"""The Triton CUBA kernels (snnpipe.models.kernels.cuba_triton) equal the torch-op loops of
snnpipe.models.kernels.cuba_fused (``_torch_forward`` / ``_torch_backward``), hence the reference.

On the CPU the kernels run through Triton's interpreter (numpy): forward values bit for bit
(loihi integers; float the same float32 operations in the same order), gradients up to float32
rounding (the kernel multiplies by 1/tau where torch divides by tau). Small sizes: the
interpreter is slow. The depth-4, 16-column launches cover the chunked time loop, the steps
left over after the chunks, several programs and a partly masked last block. Without a GPU the
kernels are also compiled through Triton's real backend (PTX and ptxas for sm_90) to check
that they build and that the float forward has no fused multiply-add. On a CUDA device the
compiled kernels are compared with the numba CPU kernel.
"""
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

triton = pytest.importorskip("triton", reason="the Triton kernels need triton (pip install "
                             "triton; it comes with torch's CUDA wheels)")

from snnpipe.models import surrogate as sg  # noqa: E402
from snnpipe.models.kernels import cuba_fused as cf  # noqa: E402
from snnpipe.models.kernels import cuba_triton as ct  # noqa: E402
from snnpipe.models.neurons.cuba_loihi import cuba_loihi  # noqa: E402
from snnpipe.models.neurons.registry import PRECISIONS as NEURONS  # noqa: E402
from snnpipe.models.neurons.state import CubaParams, CubaState, initial_state  # noqa: E402
from snnpipe.models.surrogate import FastSigmoid, SlayerExp  # noqa: E402

# the 2.3.1 interpreter converts 1-element arrays with int() (numpy >= 1.25 warns)
pytestmark = pytest.mark.filterwarnings("ignore:Conversion of an array with ndim > 0:"
                                        "DeprecationWarning")
SMALL = dict(depth=4, block=16)


def _draw(seed, n_b, n_k, n_n, n_t, spike="binary", reset="zero", threshold=True,
          surrogate=None, per_neuron=True):
    """Parameters (leaves requiring grad), input and initial state of a small case."""
    g = torch.Generator().manual_seed(seed)
    cd = torch.rand(n_k, n_n if per_neuron else 1, generator=g)
    vd = torch.rand(n_n if per_neuron else (), generator=g) * 0.5
    th = 0.2 + torch.rand(n_n if per_neuron else (), generator=g)
    bias = 0.05 * torch.randn(n_n if per_neuron else (), generator=g)
    leaves = [v.clone().requires_grad_() for v in (cd, vd, th, bias)]
    x = (0.6 * torch.randn(n_b, n_k, n_n, n_t, generator=g)).requires_grad_()
    p = CubaParams(leaves[0], leaves[1], leaves[2] if threshold else None, leaves[3],
                   reset=reset, spike=spike, surrogate=surrogate or SlayerExp(1.0, 1.0))
    state = CubaState(torch.randint(-3000, 3000, (n_b, n_k, n_n), generator=g) / 4096,
                           torch.randint(-3000, 3000, (n_b, n_n), generator=g) / 4096,
                           torch.zeros(n_b, n_n, dtype=torch.int64))
    return x, p, state, [x, *(leaves if threshold else leaves[:2] + leaves[3:])]


def _kernel_args(x, p, state, precision):
    """The arguments FusedCuba.forward hands to ``_torch_forward``."""
    n_b, n_k, n_n, n_t = x.shape
    params, ints = cf._effective(p, precision, n_n)
    cfg = cf._Config(p, precision, ints, "torch")
    xs = x.detach().permute(3, 1, 0, 2).contiguous().reshape(n_t, n_k, n_b * n_n)
    cols = cf._torch_columns(*params, n_k, n_n, n_b)
    u0 = state.u.permute(1, 0, 2).reshape(n_k, n_b * n_n).contiguous()
    v0 = state.v.reshape(-1).contiguous()
    return xs, cols, u0, v0, cfg


def _backward_args(fwd, cols, cfg, n_t, n_k, n_m, which, seed):
    """Output gradients and surrogate constants as FusedCuba.backward prepares them."""
    s, u, v, _ = fwd
    g = torch.Generator().manual_seed(seed + 100)
    grads = {"gs": torch.randn(n_t, n_m, generator=g) if cfg.spiking else None,
             "gu": torch.randn(n_t, n_k, n_m, generator=g),
             "gv": torch.randn(n_t, n_m, generator=g)}
    grads = {k: (t if k in which else None) for k, t in grads.items()}
    th = cols[2]
    slayer = type(cfg.surrogate) is sg.SlayerExp
    if slayer:
        tau = (sg.TAU_RHO_MULT * cfg.surrogate.tau_grad * th.abs()).clamp_min(1e-6)
        coef = sg.SCALE_RHO_MULT * cfg.surrogate.scale_grad / (2 * tau)
    else:
        tau = coef = th
        if grads["gs"] is not None:
            grads["gs"] = grads["gs"] * cfg.surrogate.derivative(v - th, th)
    return grads, slayer, tau, coef


def _assert_forward_equal(ref, out, spiking):
    names = ("s", "u", "v", "v_last")
    for name, a, b in zip(names, ref, out):
        if name == "s" and not spiking:
            assert b.shape == a.shape
            continue
        assert a.shape == b.shape and a.dtype == b.dtype, name
        assert torch.equal(a, b), f"{name} differs at {torch.nonzero(a != b)[:5].tolist()}"
    if spiking:     # the layout the caller's shift relies on: rows 1.. of a zero-led buffer
        s = out[0]
        assert s._base is not None and s._base.shape == (s.shape[0] + 1, s.shape[1])
        assert s.data_ptr() == s._base[1:].data_ptr() and not s._base[0].any()


def _assert_grads_close(ref, out, rtol=1e-5):
    for i, (a, b) in enumerate(zip(ref, out)):
        assert a.shape == b.shape, i
        scale = a.abs().max().item() + 1e-6
        assert torch.allclose(a, b, rtol=rtol, atol=rtol * scale), \
            f"output {i}: max diff {(a - b).abs().max().item()} (scale {scale})"


FLAGS = [("binary", "zero"), ("multi", "subtract"), ("binary", "subtract"), ("multi", "zero")]


PRECISIONS = ["loihi", "float", "xylo"]


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("spike,reset", FLAGS)
@pytest.mark.parametrize("n_k", [1, 2])
def test_forward_equals_torch_loop(precision, spike, reset, n_k):
    """All outputs bit for bit; 3 x 13 = 39 columns (blocks of 16: the last partly masked),
    T = 11 with depth 4: two chunks and three left-over steps."""
    x, p, state, _ = _draw(n_k * 7 + len(spike), 3, n_k, 13, 11, spike, reset)
    args = _kernel_args(x, p, state, precision)
    ref = cf._torch_forward(*args)
    out = ct.forward(*args, **SMALL)
    assert ref[0].sum() > 0, "the case should spike"
    if spike == "multi":
        assert ref[0].max() > 1, "the case should spike more than once"
    _assert_forward_equal(ref, out, True)


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("n_t,depth", [(1, 4), (3, 4), (8, 4), (9, 1), (7, 3), (5, 8)])
def test_forward_time_lengths_and_depths(precision, n_t, depth):
    """T shorter than, equal to and not a multiple of the prefetch depth; depth 1."""
    x, p, state, _ = _draw(n_t + depth, 2, 1, 11, n_t, "multi", "subtract")
    args = _kernel_args(x, p, state, precision)
    _assert_forward_equal(cf._torch_forward(*args),
                          ct.forward(*args, depth=depth, block=16), True)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_forward_without_threshold(precision):
    x, p, state, _ = _draw(3, 2, 2, 9, 10, threshold=False)
    args = _kernel_args(x, p, state, precision)
    _assert_forward_equal(cf._torch_forward(*args), ct.forward(*args, **SMALL), False)


def test_forward_loihi_wrap_saturation_and_reference():
    """Inputs large enough to wrap u and saturate v at 24 bits; also against the reference
    sequence function (the specification) and the numba kernel."""
    x = torch.full((1, 2, 3, 6), 1500.0)
    x[:, 1] = -2100.0
    x[0, 0, 1] = 900.0
    p = CubaParams(torch.tensor([[0.0], [0.01]]), torch.tensor(0.0),
                        torch.tensor(3000.0), spike="multi", reset="subtract")
    state = initial_state(1, 2, 3)
    args = _kernel_args(x, p, state, "loihi")
    out = ct.forward(*args, **SMALL)
    _assert_forward_equal(cf._torch_forward(*args), out, True)
    s, u, v, _ = cuba_loihi(x, p)
    assert torch.equal(out[0].reshape(6, 1, 3).permute(1, 2, 0), s)
    assert torch.equal(out[2].reshape(6, 1, 3).permute(1, 2, 0), v)
    assert (v.abs() * 4096 == 2 ** 23 - 1).any()


def test_forward_xylo_saturation_and_wrap():
    """16-bit saturation of currents and membrane, the wrap of -decay(-32768) with dash 0,
    thresholds <= 0 (fire the cap whenever V >= theta)."""
    g = torch.Generator().manual_seed(3)
    x = 40.0 * torch.randn(2, 2, 6, 9, generator=g)
    x[:, :, 0] = 60.0
    x[:, :, 1] = -60.0
    x[:, :, 3] = 0.0
    p = CubaParams(torch.tensor([[0.5], [0.25]]), torch.tensor([1.0, 0.5, 0.1, 1.0, 0.0, 0.3]),
                        torch.tensor([1.0, -0.5, 0.0, 2.0, 30.0, 0.7]), torch.tensor(0.0),
                        spike="multi")
    state = initial_state(2, 2, 6)
    state.v[:, 3] = -32.0           # -32768: -decay(V) with dash 0 wraps to -32768 again
    args = _kernel_args(x, p, state, "xylo")
    ref = cf._torch_forward(*args)
    _assert_forward_equal(ref, ct.forward(*args, **SMALL), True)
    v_int = (ref[2] * 1024).reshape(9, 2, 6)
    assert (v_int[..., 3] == -32768).all(), "the wrap keeps V at -32768 (xylosim's quirk)"
    assert (v_int == 32767).any() and ref[0].max() == 31 and (v_int[..., 1] == -32768).any()


@pytest.mark.parametrize("precision", PRECISIONS)
def test_forward_equals_reference_sequence(precision):
    """Against the reference sequence functions (snnpipe.models.neurons.registry) directly (spikes, u, v, final state)."""
    x, p, state, _ = _draw(11, 2, 2, 7, 12, "multi", "subtract")
    args = _kernel_args(x, p, state, precision)
    s, u, v, v_last = ct.forward(*args, **SMALL)
    rs, ru, rv, rstate = NEURONS[precision].sequence(x, p, state)
    n_b, n_k, n_n, n_t = x.shape
    assert torch.equal(s.reshape(n_t, n_b, n_n).permute(1, 2, 0), rs.detach())
    assert torch.equal(u.reshape(n_t, n_k, n_b, n_n).permute(2, 1, 3, 0), ru.detach())
    assert torch.equal(v.reshape(n_t, n_b, n_n).permute(1, 2, 0), rv.detach())
    assert torch.equal(v_last.reshape(n_b, n_n), rstate.v.detach())


BACKWARD = [("xylo", "multi", "subtract", None, ("gs", "gu", "gv")),
            ("xylo", "binary", "subtract", FastSigmoid(7.0), ("gs", "gv")),
            ("loihi", "multi", "subtract", None, ("gs", "gu", "gv")),
            ("float", "multi", "subtract", None, ("gs", "gu", "gv")),
            ("loihi", "binary", "zero", None, ("gs",)),
            ("float", "binary", "zero", None, ("gs", "gv")),
            ("float", "binary", "subtract", FastSigmoid(7.0), ("gs", "gu")),
            ("loihi", "multi", "zero", FastSigmoid(3.0), ("gs", "gu", "gv")),
            ("float", "multi", "zero", SlayerExp(0.5, 2.0), ("gu",)),
            ("loihi", "binary", "subtract", SlayerExp(0.5, 2.0), ())]


@pytest.mark.parametrize("precision,spike,reset,surrogate,which", BACKWARD)
@pytest.mark.parametrize("n_k", [1, 2])
def test_backward_equals_torch_loop(precision, spike, reset, surrogate, which, n_k):
    """gx, ga, gb, gth, gbias for every flag combination, SLAYER's surrogate in the kernel
    and a surrogate applied beforehand, any subset of output gradients present."""
    x, p, state, _ = _draw(n_k + len(which), 3, n_k, 13, 11, spike, reset, surrogate=surrogate)
    args = _kernel_args(x, p, state, precision)
    xs, cols, u0, v0, cfg = args
    fwd = cf._torch_forward(*args)
    n_t, n_k, n_m = xs.shape
    grads, slayer, tau, coef = _backward_args(fwd, cols, cfg, n_t, n_k, n_m, which, n_k)
    s, u, v, _ = fwd
    x_in = xs if precision == "xylo" else None
    ref = cf._torch_backward(grads, slayer, tau, coef, u, v, s, cols, (u0, v0), cfg, x_in)
    out = ct.backward(grads, slayer, tau, coef, u, v, s, cols, (u0, v0), cfg, x_in, **SMALL)
    _assert_grads_close(ref, out)


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("n_t,depth", [(1, 4), (2, 4), (5, 4), (9, 4), (6, 1), (7, 8)])
def test_backward_time_lengths_and_depths(precision, n_t, depth):
    x, p, state, _ = _draw(n_t * depth, 2, 2, 9, n_t, "multi", "subtract")
    xs, cols, u0, v0, cfg = args = _kernel_args(x, p, state, precision)
    s, u, v, _ = fwd = cf._torch_forward(*args)
    grads, slayer, tau, coef = _backward_args(fwd, cols, cfg, *xs.shape, ("gs", "gu", "gv"), 0)
    x_in = xs if precision == "xylo" else None
    ref = cf._torch_backward(grads, slayer, tau, coef, u, v, s, cols, (u0, v0), cfg, x_in)
    out = ct.backward(grads, slayer, tau, coef, u, v, s, cols, (u0, v0), cfg, x_in,
                      depth=depth, block=16)
    _assert_grads_close(ref, out)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_backward_without_threshold(precision):
    x, p, state, _ = _draw(4, 2, 2, 9, 10, threshold=False)
    xs, cols, u0, v0, cfg = args = _kernel_args(x, p, state, precision)
    s, u, v, _ = fwd = cf._torch_forward(*args)
    grads, slayer, tau, coef = _backward_args(fwd, cols, cfg, *xs.shape, ("gu", "gv"), 1)
    x_in = xs if precision == "xylo" else None
    ref = cf._torch_backward(grads, slayer, tau, coef, u, v, s, cols, (u0, v0), cfg, x_in)
    out = ct.backward(grads, slayer, tau, coef, u, v, s, cols, (u0, v0), cfg, x_in, **SMALL)
    _assert_grads_close(ref, out)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_through_the_autograd_function(precision, monkeypatch):
    """``cuba_fused(impl="triton")`` (FusedCuba with the Triton kernels; small launches):
    values and every leaf gradient as the reference sequence function."""
    from kernel_checks import compare as _compare
    x, p, state, leaves = _draw(21, 2, 2, 5, 9, "multi", "subtract")
    forward, backward = ct.forward, ct.backward
    monkeypatch.setattr(ct, "forward", lambda *a: forward(*a, **SMALL))
    monkeypatch.setattr(ct, "backward", lambda *a: backward(*a, **SMALL))
    _compare(NEURONS[precision].sequence(x, p), cf.cuba_fused(x, p, None, precision,
                                                             impl="triton"), leaves, 21)


def test_interpreter_leaves_triton_language_unpatched():
    """The interpreter patches triton.language while it runs; compiled kernels need the
    original builtins afterwards."""
    tl = triton.language
    before = (tl.load, tl.where, tl.tensor.__add__, tl.math.exp, tl.tensor.__dict__.get("__bool__"))
    x, p, state, _ = _draw(1, 1, 1, 3, 2)
    ct.forward(*_kernel_args(x, p, state, "float"), **SMALL)
    assert (tl.load, tl.where, tl.tensor.__add__, tl.math.exp,
            tl.tensor.__dict__.get("__bool__")) == before


def test_imports_without_triton():
    import sys
    code = ("import sys; sys.modules['triton'] = None\n"
            "from snnpipe.models.kernels import cuba_triton as ct\n"
            "assert not ct.available() and ct.triton is None\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=Path(__file__).resolve().parents[2])
    assert r.returncode == 0, r.stderr


# --- compiled by Triton's own backend, no GPU needed ----------------------------------------

_BIN = Path(triton.__file__).parent / "third_party" / "cuda" / "bin"
_PTXAS = shutil.which("ptxas", path=str(_BIN)) or shutil.which("ptxas")
_CUOBJDUMP = shutil.which("cuobjdump", path=str(_BIN)) or shutil.which("cuobjdump")


def _compile(kind, key, **kw):
    """``compile_offline`` uses Triton 2.3's compiler internals (``CUDABackend``,
    ``ASTSource``); other versions skip, saying so. Errors under 2.3 fail the test."""
    if not triton.__version__.startswith("2.3."):
        pytest.skip(f"offline compilation is written against triton 2.3 (found "
                    f"{triton.__version__}); the CUDA tests cover other versions on a GPU")
    return ct.compile_offline(kind, key, **kw)


@pytest.mark.skipif(_PTXAS is None or _CUOBJDUMP is None, reason="needs ptxas and cuobjdump")
def test_compiled_float_forward_has_no_fma(tmp_path):
    """Compiled for sm_90 with the launch options: the float forward keeps separate multiply
    and add (``mul.rn`` / ``add.rn``, no FFMA in SASS); multi-spikes divide with IEEE
    ``div.rn.f32`` (neither ``div.full`` nor the FTZ libdevice division)."""
    out = _compile("forward", ("float", 2, 2, 1, 0, 1, 31, False))
    ptx = out["ptx"]
    assert "fma" not in ptx and "mul.rn.f32" in ptx and "add.rn.f32" in ptx
    (tmp_path / "k.cubin").write_bytes(out["cubin"])
    sass = subprocess.run([_CUOBJDUMP, "-sass", str(tmp_path / "k.cubin")], capture_output=True,
                          text=True, check=True).stdout
    assert "FMUL" in sass and "FFMA" not in sass
    ptx = _compile("forward", ("float", 1, 2, 1, 1, 1, 31, False))["ptx"]
    assert re.search(r"div\.rn\.f32", ptx) and not re.search(r"div\.(full|approx)|\.ftz", ptx)
    # the default options would have fused: the reason for enable_fp_fusion=False
    assert "fma.rn.f32" in _compile("forward", ("float", 1, 2, 1, 0, 1, 31, False),
                                    fp_fusion=True)["ptx"]


@pytest.mark.skipif(_PTXAS is None, reason="needs ptxas")
def test_integer_and_backward_kernels_compile():
    for precision in ("loihi", "xylo"):
        ptx = _compile("forward", (precision, 2, 4, 1, 1, 1, 31, False))["ptx"]
        assert "div.rn.f64" in ptx and "shr.s64" in ptx and "fma" not in ptx
    _compile("backward", (2, 4, 1, 1, (-32.0, 31.9990234375), 1, 1, 1, 1, 1))
    _compile("backward", (1, 2, 0, 0, None, 0, 0, 0, 1, 0))
    # integer arguments equal to 1 become constants at launch (T = 1, one column, ...)
    _compile("forward", ("float", 1, 4, 1, 1, 1, 31, False), ones=("n_t", "n_m"))
    _compile("backward", (1, 4, 1, 1, None, 1, 1, 1, 1, 0), ones=("n_full", "n_rem"))


# --- compiled kernels on a GPU ---------------------------------------------------------------

@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("spike,reset", FLAGS)
@pytest.mark.parametrize("n_k,n_t", [(1, 300), (2, 77)])
def test_cuda_kernels_equal_numba(precision, spike, reset, n_k, n_t):
    """Compiled kernels (through FusedCuba on CUDA tensors) against the numba CPU kernel:
    values bit for bit (loihi integers; float: no FMA, IEEE division), gradients up to
    float32 rounding. 4 x 301 columns: several programs, a partly masked last block."""
    from kernel_checks import loss as _loss
    x, p, state, leaves = _draw(n_t + n_k, 4, n_k, 301, n_t, spike, reset)
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
    g_ref = torch.autograd.grad(_loss(ref, 0), leaves)
    out_cpu = (out[0].cpu(), out[1].cpu(), out[2].cpu(),
               CubaState(*(t.cpu() for t in out[3])))
    # the loss's random weights are drawn on the CPU; the gradient flows back to the GPU
    g_out = torch.autograd.grad(_loss(out_cpu, 0), leaves_d)
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
