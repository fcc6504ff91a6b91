"""Checks and cases shared by the fused-kernel tests (tests/models/kernels): a fused sequence
equals the reference sequence function in values (bit for bit) and in gradients (up to float32
summation order); random cases for the whole sequence (:func:`draw`) and for the kernel-level
drop-ins (:func:`draw_small`, :func:`kernel_args`, :func:`backward_args`); the crosscheck marks.

Every distinct set of mode flags is a numba variant compiled once per process (1-3 s each
when numba's on-disk cache is cold, as on a fresh clone). The default run keeps at least one
case of every precision x spike x reset combination and of every kind of check; the variants
that only repeat a check under more flags run under ``SNNPIPE_CROSSCHECK=full pytest -m
crosscheck`` (``make crosscheck``), marked with :data:`CROSSCHECK`.
"""
import os

import pytest
import torch

from snnpipe.models import surrogate as sg
from snnpipe.models.kernels.cuba_function import Config, torch_columns
from snnpipe.models.kernels.cuba_fused import effective
from snnpipe.models.neurons.state import CubaParams, CubaState
from snnpipe.models.surrogate import SlayerExp

FULL = os.environ.get("SNNPIPE_CROSSCHECK") == "full"
CROSSCHECK = [pytest.mark.crosscheck,
              pytest.mark.skipif(not FULL, reason="more flag variants of a check the suite runs: "
                                 "under `make crosscheck` (SNNPIPE_CROSSCHECK=full)")]
PRECISIONS = ["loihi", "float", "xylo"]
FLAGS = [("binary", "zero"), ("multi", "subtract"), ("binary", "subtract"), ("multi", "zero")]


def rotate_precisions(cases):
    """``pytest.param(*case, precision)`` for every case and precision (ids ``case-precision``):
    each case in the suite with one precision (in turn), the others under crosscheck."""
    return [pytest.param(*case, prec, id="-".join(map(str, (*case, prec))),
                         marks=() if prec == PRECISIONS[i % len(PRECISIONS)] else CROSSCHECK)
            for i, case in enumerate(cases) for prec in PRECISIONS]


def loss(out, seed):
    """A random linear functional of every output (spikes, u, v, final state); the weights
    are drawn on the CPU (the same on any device)."""
    g = torch.Generator().manual_seed(seed)
    s, u, v, final = out
    terms = [u, v, final.u, final.v] + ([] if s is None else [s])
    return sum((t * torch.randn(t.shape, generator=g).to(t.device)).sum() for t in terms)


def compare(ref, fused, leaves, seed):
    for name, a, b in zip(("s", "u", "v"), ref[:3], fused[:3]):
        assert (a is None) == (b is None), name
        if a is not None:
            assert torch.equal(a, b), f"{name} differs at {torch.nonzero(a != b)[:5].tolist()}"
    assert torch.equal(ref[3].u, fused[3].u) and torch.equal(ref[3].v, fused[3].v)
    g_ref = torch.autograd.grad(loss(ref, seed), leaves, allow_unused=True)
    g_fused = torch.autograd.grad(loss(fused, seed), leaves, allow_unused=True)
    for i, (a, b) in enumerate(zip(g_ref, g_fused)):
        scale = a.abs().max().item() + 1e-6
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5 * scale), \
            f"gradient of leaf {i}: max diff {(a - b).abs().max().item()} (scale {scale})"


def draw(seed: int, spike="binary", reset="zero", threshold=True, surrogate=None):
    """Random shapes, per-neuron or scalar parameters (leaves requiring grad) and input of a
    whole sequence: ``(x, p, leaves)``."""
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


def draw_xylo_readout(seed: int = 0, n_b: int = 2, n_t: int = 24):
    """A xylo leaky integrator (no threshold: the chip's output neuron whose threshold is
    ``STATE_MAX``) driven into saturation, so that V reaches ``STATE_MAX`` and is reset by it
    several times: ``(x, p, state, leaves)``, two currents, six neurons: a large constant
    input with little leak, a large input beside a bias beyond the chip's 8 bits (clipped),
    inputs saturating every step with a full membrane leak (dash 0), a negative saturation (no
    reset), random inputs around the range, a small random neuron; a random initial state."""
    g = torch.Generator().manual_seed(seed)
    n_k, n_n = 2, 6
    x = 0.4 * torch.randn(n_b, n_k, n_n, n_t, generator=g)
    x[:, 0, 0] += 9.0
    x[:, 0, 1] += 6.0
    x[:, :, 2] += 40.0
    x[:, :, 3] -= 40.0
    x[:, :, 4] = 12.0 * torch.randn(n_b, n_k, n_t, generator=g)
    cd = torch.tensor([[0.5, 0.125, 0.0625, 0.5, 0.3, 0.2],
                       [0.1, 0.6, 0.0625, 0.125, 0.05, 0.7]])
    vd = torch.tensor([2.0 ** -12, 0.03, 1.0, 0.01, 0.1, 0.2])
    bias = torch.tensor([0.5, 9.0, 0.0, -0.25, 0.3, 0.01])
    leaves = [t.clone().requires_grad_() for t in (cd, vd, bias)]
    x = x.requires_grad_()
    p = CubaParams(leaves[0], leaves[1], None, leaves[2], reset="subtract",
                   surrogate=SlayerExp(1.0, 1.0))
    state = CubaState(torch.randint(-3000, 3000, (n_b, n_k, n_n), generator=g) / 1024,
                      torch.randint(-3000, 3000, (n_b, n_n), generator=g) / 1024,
                      torch.zeros(n_b, n_n, dtype=torch.int64))
    return x, p, state, [x, *leaves]


def xylo_readout_resets(p, state, out) -> torch.Tensor:
    """The steps where a xylo readout's V reached ``STATE_MAX`` and was reset, per neuron
    (summed over the batch), recomputed from the recorded u and v of ``out`` (a reference or
    fused sequence's ``(s, u, v, state)``) with the membrane rule; asserts the recorded v is
    that V after the reset (the reference's rule) and the final state the last v."""
    from snnpipe.hwmap.targets import xylo
    from snnpipe.models.neurons.cuba_xylo import xylo_ints
    q = xylo_ints(p)
    unit = xylo.UNIT
    _, u, v, final = out
    i_total = torch.round(u.detach() * unit).long().sum(1)                  # (B, N, T)
    v_int = torch.round(v.detach() * unit).long()
    v_prev = torch.cat([torch.round(state.v * unit).long()[..., None], v_int[..., :-1]], -1)
    w = xylo.membrane_step(v_prev, i_total, q.dash_mem.detach()[:, None],
                           q.bias.detach().long()[:, None])
    reset = w >= xylo.STATE_MAX
    assert torch.equal(v_int, w - reset * xylo.STATE_MAX)
    assert torch.equal(final.v, v[..., -1])
    return reset.sum((0, 2))


# --- the kernel-level drop-ins (cuba_torch / cuba_triton forward and backward) ----------------

def draw_small(seed, n_b, n_k, n_n, n_t, spike="binary", reset="zero", threshold=True,
               surrogate=None, per_neuron=True):
    """Parameters (leaves requiring grad), input and initial state of a small case:
    ``(x, p, state, leaves)``."""
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


def kernel_args(x, p, state, precision):
    """The arguments FusedCuba.forward hands to ``cuba_torch.forward``:
    ``(xs, cols, u0, v0, cfg)``."""
    n_b, n_k, n_n, n_t = x.shape
    params, ints = effective(p, precision, n_n)
    cfg = Config(p, precision, ints, "torch")
    xs = x.detach().permute(3, 1, 0, 2).contiguous().reshape(n_t, n_k, n_b * n_n)
    cols = torch_columns(*params, n_k, n_n, n_b)
    u0 = state.u.permute(1, 0, 2).reshape(n_k, n_b * n_n).contiguous()
    v0 = state.v.reshape(-1).contiguous()
    return xs, cols, u0, v0, cfg


def backward_args(fwd, cols, cfg, n_t, n_k, n_m, which, seed):
    """Output gradients and surrogate constants as FusedCuba.backward prepares them:
    ``(grads, slayer, tau, coef)``."""
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


def assert_forward_equal(ref, out, spiking):
    """The drop-ins' forward buffers (s, u, v, v_last) equal, bit for bit."""
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


def assert_grads_close(ref, out, rtol=1e-5):
    """The drop-ins' backward results (gx, ga, gb, gth, gbias) equal up to float32 rounding."""
    for i, (a, b) in enumerate(zip(ref, out)):
        assert a.shape == b.shape, i
        scale = a.abs().max().item() + 1e-6
        assert torch.allclose(a, b, rtol=rtol, atol=rtol * scale), \
            f"output {i}: max diff {(a - b).abs().max().item()} (scale {scale})"
