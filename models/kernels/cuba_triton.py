"""Triton kernels of the fused CUBA sequence: drop-ins for ``_torch_forward`` /
``_torch_backward`` of :mod:`snnpipe.models.kernels.cuba_fused` (same arguments, same buffers, same
values), for CUDA tensors.

:func:`forward` ``(x, cols, u0, v0, cfg) -> (s, u, v, v_last)`` and :func:`backward`
``(grads, slayer, tau, coef, u, v, s, cols, states, cfg, x=None) -> (gx, ga, gb, gth,
gbias)`` take and return exactly what the torch-op loops do (time-major (T, K, M) / (T, M)
buffers, M = batch * neurons; ``s`` is rows 1.. of a (T + 1, M) buffer whose row 0 is zero,
as ``cuba_fused._spike_buffer``); precisions ``float``, ``loihi`` and ``xylo``
(``cfg.precision``, integer parameters from ``cfg.ints``, the spike cap from
``cfg.max_spikes``), flags ``cfg.spiking`` / ``cfg.multi`` / ``cfg.subtract``; backward
``cfg.saturate`` (to ``cfg.v_range``), SLAYER's surrogate evaluated in the kernel
(``slayer``), any of ``grads["gs"|"gu"|"gv"]`` None, and ``x`` (xylo: the input enters the
current before its decay, ``u_t = a (u_{t-1} + x_t)``). :func:`supports` says which sizes
they take (1..``MAX_SYN`` currents, int32 offsets).

Design: one program per block of ``BLOCK`` columns (the contiguous axis; one column per
thread, ``BLOCK`` chosen so that the programs cover the SMs: the loop is latency bound); the
whole time loop runs inside the kernel with the states in registers and the outputs written
every step. Every mode flag, the number of currents K and the prefetch depth D are
compile-time: the kernel source is *generated* per variant (:func:`_source`) with the K
currents and D time steps unrolled, which keeps everything in plain registers (Triton has no
indexable register arrays) and gives manual software pipelining: the time loop runs in
chunks of D steps, each step takes its inputs from one of D register slots and at once
refills that slot with the inputs of the step D ahead, so a load's global-memory latency is
covered by D steps of the recursion (D = 1 is "prefetch the next step"; the default 8, an
untuned guess: ``DEPTH_FORWARD`` / ``DEPTH_BACKWARD``). The at most D - 1 steps that do not
fill a chunk run in a plain loop (first in the backward, which runs from T - 1 down; its step
0, which reads the initial state, is peeled off).

Exactness (checked on the CPU through Triton's interpreter, see
``tests/models/test_kernels_triton.py``; the PTX/SASS facts below were read from these kernels
compiled here by Triton 2.3.1's own LLVM + ptxas pipeline for sm_90, which needs no GPU, see
:func:`compile_offline`):

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
  clamped to [1, 31] afterwards). The integer counts (loihi ``(w - 1) // max(theta, 1)``, xylo
  ``w // theta``) divide in float64 (``div.rn.f64``): exact for integers this small, and
  cheaper on the GPU than a 64-bit integer division; their quotients are negative only where
  the result is clamped anyway, so truncation and floor agree.
* Signed shifts: ``>>`` on a signed Triton integer is an arithmetic shift (``shr.s64``, rounds
  toward -inf; numpy's ``right_shift`` in the interpreter). The Loihi rule ``trunc0(p / 4096)``
  adds 4095 to negative products before the shift (as :func:`snnpipe.hwmap.targets.loihi.trunc_shift`)
  and the kernel writes exactly that; Xylo's ``decay`` is the floor shift itself. The integer
  states are int64 (Loihi's ``u * (4096 - decay)`` needs 36 bits).
* float -> int conversions truncate toward zero (``fptosi``), as torch's ``.long()``; Xylo's
  ``rint`` is ``(|y| + 2^23) - 2^23`` (IEEE round half to even, as torch.round).

Tensors on the CPU run the same generated kernels through ``triton.runtime.interpreter``
(numpy; slow, for tests): the kernels avoid what the 2.3.1 interpreter cannot run
(``tl.minimum``/``maximum``/``zeros``, which are jit functions there; ``tl.math``; runtime
``if``), and :func:`_interpreting` adds the int32 / float64 casts its builder lacks and undoes
its global patches of ``triton.language`` after each launch, so that compiled kernels still
build in the same process. Without triton importable the module imports and
:func:`available` is False.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import linecache

import torch

try:
    import triton
    import triton.language as tl
except ImportError:         # the core imports without triton; available() is False
    triton = None
    tl = None

from snnpipe.hwmap.targets import loihi as _loihi
from snnpipe.hwmap.targets import xylo as _xylo
from snnpipe.hwmap.targets.xylo import UNIT as _XYLO_UNIT

MAX_SYN = 4                 # synaptic currents per neuron handled by the unrolled kernels
DEPTH_FORWARD = 8           # prefetch depth D (time steps in flight) of the forward kernels
DEPTH_BACKWARD = 8          # ... and of the backward kernel
MAX_BLOCK = 256             # columns per program at most (one column per thread)
BACKWARD_FP_FUSION = True   # let the backward contract a*b + c into FMA (gradients only)
UNIT = float(_loihi.DECAY_UNIT)
XYLO_UNIT = _XYLO_UNIT       # state units per float unit of the xylo precision


def available() -> bool:
    """Whether triton is importable (the kernels also need a CUDA device to run compiled)."""
    return triton is not None


def supports(n_t: int, n_k: int, n_m: int) -> bool:
    """Whether the kernels handle T = ``n_t`` steps of ``n_k`` synaptic currents of ``n_m``
    columns: 1 .. ``MAX_SYN`` currents (unrolled) and buffers addressable with int32 offsets
    (including the prefetches past the end)."""
    return 1 <= n_k <= MAX_SYN and (n_t + 2 * max(DEPTH_FORWARD, DEPTH_BACKWARD, 64)) \
        * n_k * n_m < 2 ** 31


# --- kernel source generation ---------------------------------------------------------------

def _ind(lines, depth):
    return ["    " * depth + ln for ln in lines]


# IEEE float32 division without flush-to-zero: Triton's ``/`` is ``div.full.f32`` (approximate)
# and libdevice's ``div_rn`` compiles to ``div.rn.ftz.f32`` (Triton links libdevice with FTZ)
_DIV_RN = ('tl.inline_asm_elementwise("div.rn.f32 $0, $1, $2;", "=r,r,r", [vp, th], '
           'dtype=tl.float32, is_pure=True, pack=1)')


def _clamp(var, lo, hi):
    """Lines clamping ``var`` to [lo, hi] as ``min(max(var, lo), hi)`` with selects
    (``tl.minimum``/``maximum`` are jit functions the 2.3.1 interpreter cannot run)."""
    return [f"{var} = tl.where({var} < {lo}, {lo}, {var})",
            f"{var} = tl.where({var} > {hi}, {hi}, {var})"]


def _rint(var, expr):
    """Lines setting ``var`` to ``rint(expr)`` (float32, round half to even, as torch.round /
    np.rint): ``(|y| + 2^23) - 2^23`` rounds to an integer in IEEE arithmetic (two adds: no
    contraction) for ``|y| < 2^23``; larger float32 values are integers already."""
    return [f"{var} = {expr}",
            f"ry = tl.abs({var})",
            "rr = (ry + 8388608.0) - 8388608.0",
            f"rr = tl.where({var} < 0.0, -rr, rr)",
            f"{var} = tl.where(ry < 8388608.0, rr, {var})"]


def _xylo_decay(dst, var, dash):
    """Lines: ``dst = decay(var, dash)`` of :func:`snnpipe.hwmap.targets.xylo.decay` (int64)."""
    return [f"{dst} = {var} >> {dash}",
            f"{dst} = {dst} + ((({dst} == 0) & ({var} > 0)).to(tl.int64))"]


def _fwd_step(precision, n_k, spiking, multi, subtract, cap, interpret, xs, row):
    """Lines of one forward step: inputs ``xs[k]`` (expressions), outputs at ``row``."""
    out = []
    ucur = [f"u{k}" for k in range(n_k)]
    lo16, hi16 = _xylo.STATE_MIN, _xylo.STATE_MAX
    for k in range(n_k):
        off = f"({row}) * n_km + {k} * n_m + cols"
        if precision == "float":
            out.append(f"u{k} = u{k} * a{k} + {xs[k]}")
            out.append(f"tl.store(u_ptr + {off}, u{k}, mask=cm)")
        elif precision == "xylo":     # I = sat16(I + rint(1024 x)); I -= decay(I, dash)
            out += [*_rint("y", f"{xs[k]} * {XYLO_UNIT!r}"),
                    f"u{k} = u{k} + y.to(tl.int64)", *_clamp(f"u{k}", str(lo16), str(hi16)),
                    *_xylo_decay("d", f"u{k}", f"dsyn{k}"),
                    f"u{k} = u{k} - d",
                    f"tl.store(u_ptr + {off}, u{k}.to(tl.float32) * {1.0 / XYLO_UNIT!r}, "
                    "mask=cm)"]
        else:
            out += [f"p = u{k} * keep{k}",
                    f"p = p + tl.where(p < 0, {_loihi.DECAY_UNIT - 1}, 0)",
                    f"u{k} = (p >> {_loihi.DECAY_BITS}) + ({xs[k]} * {UNIT!r}).to(tl.int64)",
                    f"u{k} = u{k} - tl.where(u{k} > {_loihi.U_HALF}, {_loihi.U_WRAP}, 0)"
                    f" + tl.where(u{k} <= {-_loihi.U_HALF}, {_loihi.U_WRAP}, 0)",
                    f"tl.store(u_ptr + {off}, u{k}.to(tl.float32) * {1.0 / UNIT!r}, mask=cm)"]
    acc = " + ".join(ucur)
    voff = f"({row}) * n_m + cols"
    if precision == "float":
        out.append(f"vp = vv * b + ({acc}) + bias")      # (v * b + sum_u) + bias, as torch
        out.append(f"tl.store(v_ptr + {voff}, vp, mask=cm)")
        if spiking:
            out.append("fired = vp > th")
            if multi:
                q = "vp / th" if interpret else _DIV_RN
                out += [f"q = {q}", *_clamp("q", "0.0", "64.0"),
                        "qi = q.to(tl.int64)",
                        "qi = qi + (qi.to(tl.float32) < q).to(tl.int64) - 1",   # ceil(q) - 1
                        *_clamp("qi", "1", str(cap)),
                        "cnt = tl.where(fired, qi.to(tl.float32), 0.0)"]
            else:
                out.append("cnt = fired.to(tl.float32)")
            if subtract:
                out.append("vv = vp - cnt * th")
            else:
                out.append("vv = tl.where(fired, 0.0, vp)")
            out.append(f"tl.store(s_ptr + {voff}, cnt, mask=cm)")
        else:
            out.append("vv = vp")
    elif precision == "xylo":       # snnpipe.hwmap.targets.xylo.membrane_step, spike_count
        out += [*_xylo_decay("d", "vv", "dmem"),
                f"dv = ((-d - {lo16}) & 65535) + {lo16} + ({acc})",     # wrap16(-d) + sum I
                *_clamp("dv", str(lo16), str(hi16)),
                "dv = dv + bias", *_clamp("dv", str(lo16), str(hi16)),
                "w = vv + dv", *_clamp("w", str(lo16), str(hi16)),
                f"tl.store(v_ptr + {voff}, w.to(tl.float32) * {1.0 / XYLO_UNIT!r}, mask=cm)"]
        if spiking:     # n = clip(w // th, 0, cap) for th > 0 (trunc = floor where n >= 0),
            # else cap where w >= th; exact double division of integers below 2^53
            out += ["den = tl.where(th > 0, th, 1)",
                    "n = (w.to(tl.float64) / den.to(tl.float64)).to(tl.int64)",
                    *_clamp("n", "0", str(cap)),
                    f"cnt = tl.where(th > 0, n, tl.where(w >= th, {cap}, 0).to(tl.int64))",
                    "vv = w - cnt * th", *_clamp("vv", str(lo16), str(hi16)),
                    f"tl.store(s_ptr + {voff}, cnt.to(tl.float32), mask=cm)"]
        else:
            out.append("vv = w")
    else:
        vm = _loihi.V_MAX
        out += ["p = vv * vkeep",
                f"p = p + tl.where(p < 0, {_loihi.DECAY_UNIT - 1}, 0)",
                f"w = (p >> {_loihi.DECAY_BITS}) + ({acc}) + bias", *_clamp("w", str(-vm), str(vm)),
                f"tl.store(v_ptr + {voff}, w.to(tl.float32) * {1.0 / UNIT!r}, mask=cm)"]
        if spiking:
            out.append("fired = w > th")
            if multi:
                out += ["den = th", *_clamp("den", "1", "16777216"),
                        # exact: integers below 2^25, IEEE double division, trunc = floor
                        # for the positive quotients that matter (negative only if den = 1)
                        "n = ((w - 1).to(tl.float64) / den.to(tl.float64)).to(tl.int64)",
                        *_clamp("n", "1", str(cap)),
                        "cnt = tl.where(fired, n, 0).to(tl.int64)"]
            else:
                out.append("cnt = fired.to(tl.int64)")
            if subtract:
                out += ["vv = w - cnt * th", *_clamp("vv", str(-vm), str(vm))]
            else:
                out.append("vv = tl.where(fired, 0, w)")
            out.append(f"tl.store(s_ptr + {voff}, cnt.to(tl.float32), mask=cm)")
        else:
            out.append("vv = w")
    return out


def _forward_source(name, precision, n_k, depth, spiking, multi, subtract, cap, interpret):
    d = depth
    step = functools.partial(_fwd_step, precision, n_k, spiking, multi, subtract, cap,
                             interpret)
    lines = [f"def {name}(x_ptr, a_ptr, b_ptr, th_ptr, bias_ptr, u0_ptr, v0_ptr, s_ptr, u_ptr,",
             "        v_ptr, vl_ptr, n_t, n_m, n_full, BLOCK: tl.constexpr):"]
    body = ["cols = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)",
            "cm = cols < n_m",
            f"n_km = n_m * {n_k}"]
    if precision == "float":
        body += [f"a{k} = tl.load(a_ptr + {k} * n_m + cols, mask=cm, other=0.0)"
                 for k in range(n_k)]
        body += ["b = tl.load(b_ptr + cols, mask=cm, other=0.0)",
                 "th = tl.load(th_ptr + cols, mask=cm, other=1.0)",
                 "bias = tl.load(bias_ptr + cols, mask=cm, other=0.0)"]
        body += [f"u{k} = tl.load(u0_ptr + {k} * n_m + cols, mask=cm, other=0.0)"
                 for k in range(n_k)]
        body += ["vv = tl.load(v0_ptr + cols, mask=cm, other=0.0)"]
    elif precision == "xylo":   # a_ptr: dash_syn (K, M), b_ptr: dash_mem, th, bias: int64
        body += [f"dsyn{k} = tl.load(a_ptr + {k} * n_m + cols, mask=cm, other=0)"
                 for k in range(n_k)]
        body += ["dmem = tl.load(b_ptr + cols, mask=cm, other=0)",
                 "th = tl.load(th_ptr + cols, mask=cm, other=1)",
                 "bias = tl.load(bias_ptr + cols, mask=cm, other=0)"]
        for k in range(n_k):
            body += _rint(f"y{k}", f"tl.load(u0_ptr + {k} * n_m + cols, mask=cm, other=0.0)"
                          f" * {XYLO_UNIT!r}") + [f"u{k} = y{k}.to(tl.int64)"]
        body += _rint("y", f"tl.load(v0_ptr + cols, mask=cm, other=0.0) * {XYLO_UNIT!r}")
        body += ["vv = y.to(tl.int64)"]
    else:       # a_ptr: 4096 - i_decay (K, M), b_ptr: 4096 - v_decay, th, bias: int64
        body += [f"keep{k} = tl.load(a_ptr + {k} * n_m + cols, mask=cm, other=0)"
                 for k in range(n_k)]
        body += ["vkeep = tl.load(b_ptr + cols, mask=cm, other=0)",
                 "th = tl.load(th_ptr + cols, mask=cm, other=1)",
                 "bias = tl.load(bias_ptr + cols, mask=cm, other=0)"]
        body += [f"u{k} = (tl.load(u0_ptr + {k} * n_m + cols, mask=cm, other=0.0) * {UNIT!r})"
                 ".to(tl.int64)" for k in range(n_k)]
        body += [f"vv = (tl.load(v0_ptr + cols, mask=cm, other=0.0) * {UNIT!r}).to(tl.int64)"]
    # prologue: slots j hold the input of step j
    for j in range(d):
        for k in range(n_k):
            body.append(f"x{k}_{j} = tl.load(x_ptr + {j} * n_km + {k} * n_m + cols, "
                        f"mask=cm & ({j} < n_t), other=0.0)")
    loop = []
    for j in range(d):
        row = f"c * {d} + {j}"
        loop += step([f"x{k}_{j}" for k in range(n_k)], row)
        for k in range(n_k):        # refill the slot with the input D steps ahead
            loop.append(f"x{k}_{j} = tl.load(x_ptr + (c * {d} + {d + j}) * n_km + {k} * n_m"
                        f" + cols, mask=cm & (c * {d} + {d + j} < n_t), other=0.0)")
    body.append("for c in range(n_full):")
    body += _ind(loop, 1)
    rest = [f"xr{k} = tl.load(x_ptr + t * n_km + {k} * n_m + cols, mask=cm, other=0.0)"
            for k in range(n_k)]
    rest += step([f"xr{k}" for k in range(n_k)], "t")
    body.append(f"for t in range(n_full * {d}, n_t):")
    body += _ind(rest, 1)
    if precision == "float":
        body.append("tl.store(vl_ptr + cols, vv, mask=cm)")
    else:
        unit = XYLO_UNIT if precision == "xylo" else UNIT
        body.append(f"tl.store(vl_ptr + cols, vv.to(tl.float32) * {1.0 / unit!r}, mask=cm)")
    return "\n".join(lines + _ind(body, 1)) + "\n"


def _bwd_step(n_k, spiking, subtract, saturate, slayer, has_gs, has_gu, has_gv, input_first,
              row, ld, first):
    """Lines of one backward step at ``row``; ``ld[name]`` the expression of each input
    (``gs``, ``gv``, ``gu{k}``, ``xk{k}`` = x[t] (input_first), ``vm`` = v[t-1], ``sm`` =
    s[t-1], ``um{k}`` = u[t-1]); ``first``: the step t = 0 (v0 / u0 instead of the previous
    step); ``saturate``: None or the (lo, hi) voltage range of the recomputed reset."""
    out = []
    if first:
        out.append("vprev = v0")
    else:
        out.append(f"vprev = {ld['vm']}")
        if spiking:
            out.append(f"cs = {ld['sm']}")
            if subtract:
                out.append("vq = vprev - cs * th")
                if saturate:
                    out += _clamp("vq", repr(float(saturate[0])), repr(float(saturate[1])))
                out.append("vprev = tl.where(cs > 0.0, vq, vprev)")
            else:
                out.append("vprev = tl.where(cs > 0.0, 0.0, vprev)")
    out.append("g = b * gvs")
    if has_gv:
        out.append(f"g = g + {ld['gv']}")
    if spiking and has_gs:
        out.append(f"gsd = {ld['gs']}")
        if slayer:
            out.append("gsd = gsd * (coef * tl.exp(-tl.abs(vt - th) * itau))")
        out += ["g = g + gsd", "acc_th = acc_th - gsd"]
    out += ["acc_bias = acc_bias + g", "acc_b = acc_b + g * vprev", "gvs = g"]
    for k in range(n_k):
        out.append(f"gk = gvs + a{k} * gus{k}")
        if has_gu:
            out.append(f"gk = gk + {ld[f'gu{k}']}")
        up = f"u0_{k}" if first else ld[f"um{k}"]
        if input_first:                 # u_t = a (u_{t-1} + x_t)
            gx, up = f"a{k} * gk", f"({up} + {ld[f'xk{k}']})"
        else:                           # u_t = a u_{t-1} + x_t
            gx = "gk"
        out += [f"tl.store(gx_ptr + ({row}) * n_km + {k} * n_m + cols, {gx}, mask=cm)",
                f"gus{k} = gk",
                f"acc_a{k} = acc_a{k} + gk * {up}"]
    if slayer and spiking and has_gs and not first:
        out.append(f"vt = {ld['vm']}")      # v[t-1] is the next (lower) step's v[t]
    return out


def _bwd_streams(n_k, spiking, has_gs, has_gu, has_gv, input_first):
    """(name, pointer, offset of current k, row stride, row shift) of the per-step inputs of
    a step t >= 1 (shift -1: the row of step t - 1)."""
    st = []
    if input_first:
        st += [(f"xk{k}", "x_ptr", f"{k} * n_m + ", "n_km", 0) for k in range(n_k)]
    if spiking and has_gs:
        st.append(("gs", "gs_ptr", "", "n_m", 0))
    if has_gv:
        st.append(("gv", "gv_ptr", "", "n_m", 0))
    if has_gu:
        st += [(f"gu{k}", "gu_ptr", f"{k} * n_m + ", "n_km", 0) for k in range(n_k)]
    st.append(("vm", "v_ptr", "", "n_m", -1))
    if spiking:
        st.append(("sm", "s_ptr", "", "n_m", -1))
    st += [(f"um{k}", "u_ptr", f"{k} * n_m + ", "n_km", -1) for k in range(n_k)]
    return st


def _backward_source(name, n_k, depth, spiking, subtract, saturate, slayer, has_gs, has_gu,
                     has_gv, input_first):
    d = depth
    flags = (n_k, spiking, subtract, saturate, slayer, has_gs, has_gu, has_gv, input_first)
    lines = [f"def {name}(gs_ptr, gu_ptr, gv_ptr, itau_ptr, coef_ptr, u_ptr, v_ptr, s_ptr,",
             "        u0_ptr, v0_ptr, a_ptr, b_ptr, th_ptr, x_ptr, gx_ptr, ga_ptr, gb_ptr,",
             "        gth_ptr, gbias_ptr, n_t, n_m, n_full, n_rem, BLOCK: tl.constexpr):"]
    body = ["cols = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)",
            "cm = cols < n_m",
            f"n_km = n_m * {n_k}",
            "b = tl.load(b_ptr + cols, mask=cm, other=0.0)",
            "th = tl.load(th_ptr + cols, mask=cm, other=1.0)",
            "v0 = tl.load(v0_ptr + cols, mask=cm, other=0.0)",
            "gvs = tl.full([BLOCK], 0.0, tl.float32)",
            "acc_b = tl.full([BLOCK], 0.0, tl.float32)",
            "acc_th = tl.full([BLOCK], 0.0, tl.float32)",
            "acc_bias = tl.full([BLOCK], 0.0, tl.float32)"]
    for k in range(n_k):
        body += [f"a{k} = tl.load(a_ptr + {k} * n_m + cols, mask=cm, other=0.0)",
                 f"u0_{k} = tl.load(u0_ptr + {k} * n_m + cols, mask=cm, other=0.0)",
                 f"gus{k} = tl.full([BLOCK], 0.0, tl.float32)",
                 f"acc_a{k} = tl.full([BLOCK], 0.0, tl.float32)"]
    use_vt = slayer and spiking and has_gs
    if use_vt:
        body += ["itau = tl.load(itau_ptr + cols, mask=cm, other=1.0)",
                 "coef = tl.load(coef_ptr + cols, mask=cm, other=0.0)",
                 "vt = tl.load(v_ptr + (n_t - 1) * n_m + cols, mask=cm, other=0.0)"]
    streams = _bwd_streams(n_k, spiking, has_gs, has_gu, has_gv, input_first)

    def load(nm, ptr, koff, stride, shift, row, mask="cm"):
        r = f"({row}) - 1" if shift else f"({row})"
        return f"tl.load({ptr} + ({r}) * {stride} + {koff}cols, mask={mask}, other=0.0)"

    # rows n_t - 1 .. 1 + n_full * D (the steps that do not fill a chunk), plain loads
    rest = ["t = n_t - 1 - tt"]
    ld = {}
    for nm, ptr, koff, stride, shift in streams:
        rest.append(f"r_{nm} = " + load(nm, ptr, koff, stride, shift, "t"))
        ld[nm] = f"r_{nm}"
    rest += _bwd_step(*flags, "t", ld, False)
    body.append("for tt in range(n_rem):")
    body += _ind(rest, 1)
    # chunks c = n_full - 1 .. 0 of rows 1 + c * D + j, j = D - 1 .. 0; slot j refilled with
    # the row D below right after its use
    for j in range(d):
        for nm, ptr, koff, stride, shift in streams:
            body.append(f"{nm}_{j} = " + load(nm, ptr, koff, stride, shift,
                                              f"(n_full - 1) * {d} + {1 + j}",
                                              "cm & (n_full > 0)"))
    loop = ["c = n_full - 1 - cc"]
    for j in reversed(range(d)):
        row = f"c * {d} + {1 + j}"
        loop += _bwd_step(*flags, row, {nm: f"{nm}_{j}" for nm, *_ in streams}, False)
        for nm, ptr, koff, stride, shift in streams:
            loop.append(f"{nm}_{j} = " + load(nm, ptr, koff, stride, shift,
                                              f"c * {d} + {1 + j - d}", "cm & (c > 0)"))
    body.append("for cc in range(n_full):")
    body += _ind(loop, 1)
    # step 0
    first = {}
    for nm, ptr, koff, stride, shift in streams:
        if not shift:
            body.append(f"z_{nm} = " + load(nm, ptr, koff, stride, 0, "0"))
            first[nm] = f"z_{nm}"
    body += _bwd_step(*flags, "0", first, True)
    body += ["tl.store(gb_ptr + cols, acc_b, mask=cm)",
             "tl.store(gth_ptr + cols, acc_th, mask=cm)",
             "tl.store(gbias_ptr + cols, acc_bias, mask=cm)"]
    body += [f"tl.store(ga_ptr + {k} * n_m + cols, acc_a{k}, mask=cm)" for k in range(n_k)]
    return "\n".join(lines + _ind(body, 1)) + "\n"


def _source(kind: str, key: tuple) -> tuple[str, str]:
    """(function name, source) of the kernel variant ``kind`` (``forward``/``backward``)."""
    tag = hashlib.md5(repr((kind, key)).encode()).hexdigest()[:12]
    name = f"_cuba_{kind}_{tag}"
    if kind == "forward":
        return name, _forward_source(name, *key)
    return name, _backward_source(name, *key)


@contextlib.contextmanager
def _interpreting():
    """Around an interpreted launch: give the 2.3.1 interpreter's builder the int32 and
    float64 types it lacks (casts to them), and undo its global patches of
    ``triton.language`` afterwards (so that compiled kernels still build in this process)."""
    from triton.runtime import interpreter
    shims = {"get_int32_ty": lambda: tl.int32, "get_double_ty": lambda: tl.float64}
    shims = {k: f for k, f in shims.items() if not hasattr(interpreter.builder, k)}
    saved = [(obj, dict(vars(obj))) for obj in (tl, tl.math, tl.tensor)]
    for k, f in shims.items():
        setattr(interpreter.builder, k, f)
    try:
        yield
    finally:
        for k in shims:
            delattr(interpreter.builder, k)
        for obj, before in saved:
            for attr in [a for a in list(vars(obj)) if a not in before]:
                delattr(obj, attr)
            for attr, value in before.items():
                if vars(obj).get(attr, None) is not value:
                    setattr(obj, attr, value)


@functools.lru_cache(maxsize=None)
def _kernel(kind: str, key: tuple, interpret: bool):
    """The kernel variant: ``triton.jit`` of the generated function, or the interpreter's
    wrapper of it for CPU tensors (``interpret``)."""
    name, src = _source(kind, key)
    filename = f"<snnpipe cuba_triton {name}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    namespace = {"tl": tl, "__name__": __name__}
    exec(compile(src, filename, "exec", dont_inherit=True), namespace)  # noqa: S102
    fn = namespace[name]
    if interpret:
        from triton.runtime.interpreter import InterpretedFunction
        return InterpretedFunction(fn)
    return triton.jit(fn)


def _launch(kind, key, interpret, n_m, device, args, fp_fusion, block=None):
    if block is None:
        block = _block_size(n_m, device)
    kern = _kernel(kind, key, interpret)
    grid = (triton.cdiv(n_m, block),)
    opts = dict(BLOCK=block, num_warps=max(1, min(8, block // 32)), enable_fp_fusion=fp_fusion)
    if interpret:
        with _interpreting():
            kern[grid](*args, **opts)
    else:
        with torch.cuda.device(device):      # triton launches on the current device
            kern[grid](*args, **opts)


@functools.lru_cache(maxsize=None)
def _sm_count(index) -> int:
    return torch.cuda.get_device_properties(index).multi_processor_count


def _block_size(n_m: int, device) -> int:
    """Columns per program: enough programs to cover every SM (the time loop is latency
    bound: more, smaller programs run more recursions at once), 32 .. MAX_BLOCK."""
    n_sm = _sm_count(device.index if device.index is not None else torch.cuda.current_device()) \
        if device.type == "cuda" else 4
    want = -(-n_m // n_sm)
    block = 32
    while block < want and block < MAX_BLOCK:
        block *= 2
    return block


def _check(n_t, n_k, n_m, depth):
    if not 1 <= n_k <= MAX_SYN:
        raise ValueError(f"cuba_triton handles 1..{MAX_SYN} synaptic currents, got {n_k}")
    if (n_t + 2 * depth) * n_k * n_m >= 2 ** 31:
        raise ValueError("cuba_triton: buffers of 2^31 elements or more (int32 offsets)")


# --- the drop-ins ---------------------------------------------------------------------------

def _int_columns(ints, n_m, dev):
    """The integer parameters (numpy (K, N) / (N,)) repeated for every sample, int64."""
    qs = [torch.as_tensor(q, device=dev, dtype=torch.int64) for q in ints]
    reps = n_m // qs[2].shape[-1]
    return [(q.repeat(1, reps) if q.dim() == 2 else q.repeat(reps)).contiguous() for q in qs]


def forward(x, cols, u0, v0, cfg, *, depth=None, block=None):
    """``_torch_forward`` as one Triton kernel. x (T, K, M) float32; cols = (a (K, M), b,
    theta, bias (M,)) float units (loihi, xylo: the integer parameters come from
    ``cfg.ints``); u0 (K, M), v0 (M,). Returns s (rows 1.. of a (T + 1, M) buffer with row 0
    zero; (1, M) uninitialised when not spiking), u (T, K, M), v (T, M), v_last (M,).
    ``depth``, ``block``: prefetch depth and columns per program (tests, tuning)."""
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
        params = (int(_loihi.DECAY_UNIT) - i_decay, int(_loihi.DECAY_UNIT) - v_decay,
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
    _launch("forward", key, interpret, n_m, dev, args, fp_fusion=False, block=block)
    return s, u, v, v_last


def backward(grads, slayer, tau, coef, u, v, s, cols, states, cfg, x=None, *, depth=None,
             block=None):
    """``_torch_backward`` as one Triton kernel: the adjoint of the float recursion on the
    recorded trajectory. grads: dict of ``gs`` (T, M) (already times the surrogate derivative
    unless ``slayer``), ``gu`` (T, K, M), ``gv`` (T, M), each possibly None; slayer: evaluate
    ``coef * exp(-|v - theta| / tau)`` here (tau, coef (M,)); x (T, K, M): the input, given
    for the xylo recursion ``u_t = a (u_{t-1} + x_t)`` only. Returns gx (T, K, M), ga (K, M),
    gb, gth, gbias (M,)."""
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
    _launch("backward", key, interpret, n_m, dev, args, fp_fusion=BACKWARD_FP_FUSION,
            block=block)
    return gx, ga, gb, gth, gbias


def compile_offline(kind: str, key: tuple, block: int = 128, capability: int = 90,
                    fp_fusion: bool | None = None, ones: tuple = ()) -> dict:
    """Compile a kernel variant through Triton's real backend (TTIR -> TTGIR -> LLVM IR ->
    PTX -> cubin with the bundled ptxas) for ``sm_<capability>`` without a GPU; returns the
    stages' text / bytes by name (``ttir``, ``ttgir``, ``llir``, ``ptx``, ``cubin``). ``key``
    as :func:`forward` / :func:`backward` build it (its last forward entry, ``interpret``,
    must be False). ``ones``: the integer arguments (``n_t``, ``n_m``, ``n_full``, ``n_rem``)
    that are 1, which a launch specialises into constants. Used by the tests to check that
    the kernels compile and what PTX they produce (no FMA in the float forward, IEEE
    divisions)."""
    from triton.compiler.backends.cuda import CUDABackend
    from triton.compiler.compiler import ASTSource

    if fp_fusion is None:
        fp_fusion = BACKWARD_FP_FUSION if kind == "backward" else False
    fn = _kernel(kind, key, False)
    if kind == "forward":
        pt = "*fp32" if key[0] == "float" else "*i64"
        types = ["*fp32"] + [pt] * 4 + ["*fp32"] * 6 + ["i32"] * 3
    else:
        types = ["*fp32"] * 19 + ["i32"] * 4
    names = ["n_t", "n_m", "n_full", "n_rem"]
    constants = {len(types) - types[::-1].index("*fp32") + names.index(n): 1 for n in ones}
    src = ASTSource(fn, dict(enumerate(types)), {len(types): block, **constants})
    backend = CUDABackend(("cuda", capability))
    opts = backend.parse_options(dict(num_warps=max(1, min(8, block // 32)),
                                      enable_fp_fusion=fp_fusion))
    stages: dict = {}
    backend.add_stages(stages, opts)
    meta = {"target": ("cuda", capability), **opts.__dict__, **src.metadata()}
    module, out = src.make_ir(opts), {}
    for ext, step in stages.items():
        module = step(module, meta)
        out[ext] = module
    return out
