"""Triton kernels of the fused CUBA sequence: drop-ins for :func:`~snnpipe.models.kernels.
cuba_torch.forward` / :func:`~snnpipe.models.kernels.cuba_torch.backward` (same arguments, same
buffers, same values), for CUDA tensors.

:func:`forward` ``(x, cols, u0, v0, cfg) -> (s, u, v, v_last)`` and :func:`backward`
``(grads, slayer, tau, coef, u, v, s, cols, states, cfg, x=None) -> (gx, ga, gb, gth,
gbias)`` take and return exactly what the torch-op loops do (time-major (T, K, M) / (T, M)
buffers, M = batch * neurons; ``s`` is rows 1.. of a (T + 1, M) buffer whose row 0 is zero,
as :func:`snnpipe.models.kernels.cuba_torch.spike_buffer`); precisions ``float``, ``loihi``
and ``xylo`` (``cfg.precision``, integer parameters from ``cfg.ints``, the spike cap from
``cfg.max_spikes``), flags ``cfg.spiking`` / ``cfg.multi`` / ``cfg.subtract``; backward
``cfg.saturate`` (to ``cfg.v_range``), SLAYER's surrogate evaluated in the kernel
(``slayer``), any of ``grads["gs"|"gu"|"gv"]`` None, and ``x`` (xylo: the input enters the
current before its decay, ``u_t = a (u_{t-1} + x_t)``). :func:`supports` says which sizes
they take (1..``MAX_SYN`` currents, int32 offsets).

Design: one program per block of ``BLOCK`` columns (the contiguous axis; one column per
thread, ``BLOCK`` chosen so that the programs cover the SMs: the loop is latency bound); the
whole time loop runs inside the kernel with the states in registers and the outputs written
every step. Every mode flag, the number of currents K and the prefetch depth D are
compile-time: the kernel source is *generated* per variant (:mod:`.triton_forward_source`,
:mod:`.triton_backward_source`; built and launched by :mod:`.triton_runtime`) with the K
currents and D time steps unrolled, which keeps everything in plain registers (Triton has no
indexable register arrays) and gives manual software pipelining: the time loop runs in
chunks of D steps, each step takes its inputs from one of D register slots and at once
refills that slot with the inputs of the step D ahead, so a load's global-memory latency is
covered by D steps of the recursion (D = 1 is "prefetch the next step"; the default 8, an
untuned guess: ``DEPTH_FORWARD`` / ``DEPTH_BACKWARD``). The at most D - 1 steps that do not
fill a chunk run in a plain loop (first in the backward, which runs from T - 1 down; its step
0, which reads the initial state, is peeled off).

Exactness (checked on the CPU through Triton's interpreter, see
``tests/models/kernels/test_triton_*.py``; the PTX/SASS facts below were read from these
kernels compiled here by Triton 2.3.1's own LLVM + ptxas pipeline for sm_90, which needs no
GPU, see :func:`snnpipe.models.kernels.triton_compile.compile_offline`):

* FMA contraction: Triton 2.3.1 compiles with ``enable_fp_fusion=True`` by default (LLVM
  ``FPOpFusion::Fast``, ``ptxas --fmad=true``): ``u * a + x`` becomes ``fma.rn.f32``, which
  rounds once where torch rounds twice. The forward kernels are launched with
  ``enable_fp_fusion=False``: the PTX then has ``mul.rn.f32`` / ``add.rn.f32`` (``.rn``
  instructions, which ptxas never contracts) and the SASS FMUL/FADD, no FFMA: the reference's
  operation order. The backward keeps fusion (``BACKWARD_FP_FUSION``; gradients are compared up
  to float32 rounding anyway).
* Division: Triton lowers float32 ``/`` to ``div.full.f32`` (approximate, 2 ulp), and
  ``tl.math.div_rn`` to ``div.rn.ftz.f32`` (libdevice linked with flush-to-zero); either could
  move ``ceil(v / theta)`` across an integer. The float multi-spike count divides with inline
  PTX ``div.rn.f32`` (IEEE, no FTZ) when compiled and numpy's ``/`` when interpreted. ``ceil``
  is taken exactly from an int conversion of the quotient clamped to [0, 64] (the count is
  clamped to [1, cap] afterwards). The integer counts (loihi ``(w - 1) // max(theta, 1)``, xylo
  ``w // theta``) divide in float64 (``div.rn.f64``): exact for integers this small, and
  cheaper on the GPU than a 64-bit integer division; their quotients are negative only where
  the result is clamped anyway, so truncation and floor agree.
* Signed shifts: ``>>`` on a signed Triton integer is an arithmetic shift (``shr.s64``, rounds
  toward -inf; numpy's ``right_shift`` in the interpreter). The Loihi rule ``trunc0(p / 4096)``
  adds 4095 to negative products before the shift (as
  :func:`snnpipe.hwmap.targets.loihi.trunc_shift`) and the kernel writes exactly that; Xylo's
  ``decay`` is the floor shift itself. The integer states are int64 (Loihi's ``u * (4096 -
  decay)`` needs 36 bits).
* float -> int conversions truncate toward zero (``fptosi``), as torch's ``.long()``; Xylo's
  ``rint`` is ``(|y| + 2^23) - 2^23`` (IEEE round half to even, as torch.round).

Tensors on the CPU run the same generated kernels through ``triton.runtime.interpreter`` (numpy;
slow, for tests): the kernels avoid what the 2.3.1 interpreter cannot run
(``tl.minimum``/``maximum``/``zeros``, which are jit functions there; ``tl.math``; runtime
``if``), and :func:`snnpipe.models.kernels.triton_runtime.interpreting` adds the int32 / float64
casts its builder lacks and undoes its global patches of ``triton.language`` after each launch,
so that compiled kernels still build in the same process. Without triton importable the module
imports and :func:`available` is False.
"""
from __future__ import annotations

import torch

from snnpipe.hwmap.targets import loihi, xylo
from snnpipe.models.kernels import triton_runtime

MAX_SYN = 4                 # synaptic currents per neuron handled by the unrolled kernels
DEPTH_FORWARD = 8           # prefetch depth D (time steps in flight) of the forward kernels
DEPTH_BACKWARD = 8          # ... and of the backward kernel
BACKWARD_FP_FUSION = True   # let the backward contract a*b + c into FMA (gradients only)
UNIT = float(loihi.DECAY_UNIT)
XYLO_UNIT = xylo.UNIT       # state units per float unit of the xylo precision


def available() -> bool:
    """Whether triton is importable (the kernels also need a CUDA device to run compiled)."""
    return triton_runtime.available()


def supports(n_t: int, n_k: int, n_m: int) -> bool:
    """Whether the kernels handle T = ``n_t`` steps of ``n_k`` synaptic currents of ``n_m``
    columns: 1 .. ``MAX_SYN`` currents (unrolled) and buffers addressable with int32 offsets
    (including the prefetches past the end)."""
    return 1 <= n_k <= MAX_SYN and (n_t + 2 * max(DEPTH_FORWARD, DEPTH_BACKWARD, 64)) \
        * n_k * n_m < 2 ** 31



def _check(n_t, n_k, n_m, depth):
    if not 1 <= n_k <= MAX_SYN:
        raise ValueError(f"cuba_triton handles 1..{MAX_SYN} synaptic currents, got {n_k}")
    if (n_t + 2 * depth) * n_k * n_m >= 2 ** 31:
        raise ValueError("cuba_triton: buffers of 2^31 elements or more (int32 offsets)")


def _int_columns(ints, n_m, dev):
    """The integer parameters (numpy (K, N) / (N,)) repeated for every sample, int64."""
    qs = [torch.as_tensor(q, device=dev, dtype=torch.int64) for q in ints]
    reps = n_m // qs[2].shape[-1]
    return [(q.repeat(1, reps) if q.dim() == 2 else q.repeat(reps)).contiguous() for q in qs]


def forward(x, cols, u0, v0, cfg, *, depth=None, block=None):
    """:func:`snnpipe.models.kernels.cuba_torch.forward` as one Triton kernel. x (T, K, M)
    float32; cols = (a (K, M), b, theta, bias (M,)) float units (loihi, xylo: the integer
    parameters come from ``cfg.ints``); u0 (K, M), v0 (M,). Returns s (rows 1.. of a
    (T + 1, M) buffer with row 0 zero; (1, M) uninitialised when not spiking), u (T, K, M),
    v (T, M), v_last (M,). ``depth``, ``block``: prefetch depth and columns per program
    (tests, tuning)."""
    n_t, n_k, n_m = x.shape
    dev = x.device
    interpret = dev.type != "cuda"
    depth = depth or DEPTH_FORWARD
    _check(n_t, n_k, n_m, depth)
    u = torch.empty(n_t, n_k, n_m, device=dev)
    v = torch.empty(n_t, n_m, device=dev)
    if cfg.spiking:
        buf = torch.empty(n_t + 1, n_m, device=dev)
        buf[0] = 0
        s = buf[1:]
    else:
        s = torch.empty(1, n_m, device=dev)
    v_last = torch.empty(n_m, device=dev)
    x = x.detach().to(torch.float32).contiguous()
    u0, v0 = (t.detach().to(torch.float32).contiguous() for t in (u0, v0))
    if cfg.precision == "loihi":
        i_decay, v_decay, theta_i, bias_i = _int_columns(cfg.ints, n_m, dev)
        params = (int(loihi.DECAY_UNIT) - i_decay, int(loihi.DECAY_UNIT) - v_decay,
                  theta_i, bias_i)
    elif cfg.precision == "xylo":
        params = tuple(_int_columns(cfg.ints, n_m, dev))
    elif cfg.precision == "float":
        params = tuple(torch.as_tensor(t, device=dev).detach().to(torch.float32).contiguous()
                       for t in cols)
    else:
        raise ValueError(f"cuba_triton: unsupported precision {cfg.precision!r}")
    cap = int(cfg.max_spikes)
    if n_t == 0:                # nothing to launch: the state passes through (quantised)
        if cfg.precision == "float":
            v_last.copy_(v0)
        elif cfg.precision == "xylo":
            v_last.copy_(torch.round(v0 * XYLO_UNIT).long() / XYLO_UNIT)
        else:
            v_last.copy_((v0 * UNIT).long() / UNIT)
        return s, u, v, v_last
    key = (cfg.precision, n_k, depth, int(cfg.spiking), int(cfg.multi), int(cfg.subtract),
           cap, interpret)
    args = (x, *params, u0, v0, s, u, v, v_last, n_t, n_m, n_t // depth)
    triton_runtime.launch("forward", key, interpret, n_m, dev, args, fp_fusion=False, block=block)
    return s, u, v, v_last


def backward(grads, slayer, tau, coef, u, v, s, cols, states, cfg, x=None, *, depth=None,
             block=None):
    """:func:`snnpipe.models.kernels.cuba_torch.backward` as one Triton kernel: the adjoint of the
    float recursion on the recorded trajectory. grads: dict of ``gs`` (T, M) (already times the
    surrogate derivative unless ``slayer``), ``gu`` (T, K, M), ``gv`` (T, M), each possibly
    None; slayer: evaluate ``coef * exp(-|v - theta| / tau)`` here (tau, coef (M,)); x (T, K,
    M): the input, given for the xylo recursion ``u_t = a (u_{t-1} + x_t)`` only. Returns gx (T,
    K, M), ga (K, M), gb, gth, gbias (M,)."""
    n_t, n_k, n_m = u.shape
    dev = u.device
    interpret = dev.type != "cuda"
    depth = depth or DEPTH_BACKWARD
    _check(n_t, n_k, n_m, depth)
    a, b, theta, _ = (torch.as_tensor(t, device=dev).detach().to(torch.float32).contiguous()
                      for t in cols)
    u0, v0 = (t.detach().contiguous() for t in states)
    gs, gu, gv = (grads.get(k) for k in ("gs", "gu", "gv"))
    has_gs = int(bool(cfg.spiking) and gs is not None)
    has_gu, has_gv = int(gu is not None), int(gv is not None)
    dummy = torch.zeros(1, device=dev)
    gs = gs.reshape(n_t, n_m).contiguous() if has_gs else dummy
    gu = gu.reshape(n_t, n_k, n_m).contiguous() if has_gu else dummy
    gv = gv.reshape(n_t, n_m).contiguous() if has_gv else dummy
    input_first = int(x is not None)
    x = x.detach().reshape(n_t, n_k, n_m).contiguous() if input_first else dummy
    slayer = int(bool(slayer) and has_gs)
    if slayer:
        tau_t = torch.as_tensor(tau, device=dev, dtype=torch.float32)
        itau = (1 / tau_t).expand(n_m).contiguous()
        coef_t = torch.as_tensor(coef, device=dev, dtype=torch.float32).expand(n_m).contiguous()
    else:
        itau = coef_t = dummy
    saturate = None
    if cfg.saturate:
        saturate = tuple(float(r) for r in cfg.v_range)
    gx = torch.empty(n_t, n_k, n_m, device=dev)
    ga = torch.zeros(n_k, n_m, device=dev)
    gb, gth, gbias = (torch.zeros(n_m, device=dev) for _ in range(3))
    if n_t == 0:
        return gx, ga, gb, gth, gbias
    s_arg = s if cfg.spiking else dummy
    n_full = (n_t - 1) // depth
    n_rem = n_t - 1 - n_full * depth
    key = (n_k, depth, int(cfg.spiking), int(cfg.subtract), saturate, slayer, has_gs, has_gu,
           has_gv, input_first)
    args = (gs, gu, gv, itau, coef_t, u, v, s_arg, u0, v0, a, b, theta, x, gx, ga, gb, gth,
            gbias, n_t, n_m, n_full, n_rem)
    triton_runtime.launch("backward", key, interpret, n_m, dev, args, fp_fusion=BACKWARD_FP_FUSION,
            block=block)
    return gx, ga, gb, gth, gbias
