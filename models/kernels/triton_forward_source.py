"""Source generator of the Triton forward kernels of the fused CUBA sequence
(:func:`forward_source`, one variant per precision, number of currents K, prefetch depth D and
mode flags; launched by :func:`snnpipe.models.kernels.cuba_triton.forward`).

The generated kernel ``name(x_ptr, a_ptr, b_ptr, th_ptr, bias_ptr, u0_ptr, v0_ptr, s_ptr,
u_ptr, v_ptr, vl_ptr, n_t, n_m, n_full, BLOCK)`` runs the whole time loop of ``BLOCK``
columns: x, u (T, K, M), s, v (T, M), v_last (M,) float32; parameters per column (float: a
(K, M), b, theta, bias float32; loihi: ``DECAY_UNIT - i_decay`` (K, M), ``DECAY_UNIT -
v_decay``, theta, bias int64 in state units; xylo: dash_syn (K, M), dash_mem, theta, bias
int64); ``n_full = n_t // D`` chunks of D steps, the rest in a plain loop. v is recorded
pre-reset, except for xylo without threshold (an ``li`` readout: the chip's output neuron
whose threshold is ``xylo.STATE_MAX``), whose V is reduced by ``STATE_MAX`` where it reaches
it and recorded after that reset (the state carried), as the reference. The K currents and
D steps are unrolled (states in registers, inputs prefetched D steps ahead). Every number
of the integer rules comes from :mod:`snnpipe.hwmap.targets.loihi` /
:mod:`~snnpipe.hwmap.targets.xylo`; the exactness of each operation is discussed in
:mod:`.cuba_triton`.
"""
from __future__ import annotations

import functools

from snnpipe.hwmap.targets import loihi, xylo
from snnpipe.models.kernels.triton_lines import clamp, indent, rint, xylo_decay

UNIT = float(loihi.DECAY_UNIT)      # state units per float unit of the loihi precision
XYLO_UNIT = xylo.UNIT               # ... of the xylo precision
XYLO_MASK = (1 << xylo.STATE_BITS) - 1     # the 16-bit wrap of xylo.wrap16
# spikes of a xylo readout (no threshold: an output neuron whose threshold is STATE_MAX) in a
# step where V reaches STATE_MAX: spike_count's min(V // STATE_MAX, OUTPUT_CAP) with V at most
# STATE_MAX (saturated), i.e. V // STATE_MAX = 1 there and <= 0 below
READOUT_SPIKES = min(xylo.OUTPUT_CAP, 1)
Q_MAX = "64.0"      # float multi-spike quotients are clamped to [0, Q_MAX] (above any cap + 1)

# IEEE float32 division without flush-to-zero: Triton's ``/`` is ``div.full.f32`` (approximate)
# and libdevice's ``div_rn`` compiles to ``div.rn.ftz.f32`` (Triton links libdevice with FTZ)
DIV_RN = ('tl.inline_asm_elementwise("div.rn.f32 $0, $1, $2;", "=r,r,r", [vp, th], '
          'dtype=tl.float32, is_pure=True, pack=1)')


def forward_step(precision, n_k, spiking, multi, subtract, cap, interpret, xs, row):
    """Lines of one forward step: inputs ``xs[k]`` (expressions), outputs at ``row``."""
    out = []
    ucur = [f"u{k}" for k in range(n_k)]
    lo16, hi16 = xylo.STATE_MIN, xylo.STATE_MAX
    for k in range(n_k):
        off = f"({row}) * n_km + {k} * n_m + cols"
        if precision == "float":
            out.append(f"u{k} = u{k} * a{k} + {xs[k]}")
            out.append(f"tl.store(u_ptr + {off}, u{k}, mask=cm)")
        elif precision == "xylo":     # I = sat16(I + rint(1024 x)); I -= decay(I, dash)
            out += [*rint("y", f"{xs[k]} * {XYLO_UNIT!r}"),
                    f"u{k} = u{k} + y.to(tl.int64)", *clamp(f"u{k}", str(lo16), str(hi16)),
                    *xylo_decay("d", f"u{k}", f"dsyn{k}"),
                    f"u{k} = u{k} - d",
                    f"tl.store(u_ptr + {off}, u{k}.to(tl.float32) * {1.0 / XYLO_UNIT!r}, "
                    "mask=cm)"]
        else:
            out += [f"p = u{k} * keep{k}",
                    f"p = p + tl.where(p < 0, {loihi.DECAY_UNIT - 1}, 0)",
                    f"u{k} = (p >> {loihi.DECAY_BITS}) + ({xs[k]} * {UNIT!r}).to(tl.int64)",
                    f"u{k} = u{k} - tl.where(u{k} > {loihi.U_HALF}, {loihi.U_WRAP}, 0)"
                    f" + tl.where(u{k} <= {-loihi.U_HALF}, {loihi.U_WRAP}, 0)",
                    f"tl.store(u_ptr + {off}, u{k}.to(tl.float32) * {1.0 / UNIT!r}, mask=cm)"]
    acc = " + ".join(ucur)
    voff = f"({row}) * n_m + cols"
    if precision == "float":
        out.append(f"vp = vv * b + ({acc}) + bias")      # (v * b + sum_u) + bias, as torch
        out.append(f"tl.store(v_ptr + {voff}, vp, mask=cm)")
        if spiking:
            out.append("fired = vp > th")
            if multi:
                q = "vp / th" if interpret else DIV_RN
                out += [f"q = {q}", *clamp("q", "0.0", Q_MAX),
                        "qi = q.to(tl.int64)",
                        "qi = qi + (qi.to(tl.float32) < q).to(tl.int64) - 1",   # ceil(q) - 1
                        *clamp("qi", "1", str(cap)),
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
        out += [*xylo_decay("d", "vv", "dmem"),
                f"dv = ((-d - {lo16}) & {XYLO_MASK}) + {lo16} + ({acc})",     # wrap16(-d) + sum I
                *clamp("dv", str(lo16), str(hi16)),
                "dv = dv + bias", *clamp("dv", str(lo16), str(hi16)),
                "w = vv + dv", *clamp("w", str(lo16), str(hi16))]
        store_v = (f"tl.store(v_ptr + {voff}, {{}}.to(tl.float32) * {1.0 / XYLO_UNIT!r}, "
                   "mask=cm)")
        if spiking:     # n = clip(w // th, 0, cap) for th > 0 (trunc = floor where n >= 0),
            # else cap where w >= th; exact double division of integers below 2^53
            out += [store_v.format("w"),
                    "den = tl.where(th > 0, th, 1)",
                    "n = (w.to(tl.float64) / den.to(tl.float64)).to(tl.int64)",
                    *clamp("n", "0", str(cap)),
                    f"cnt = tl.where(th > 0, n, tl.where(w >= th, {cap}, 0).to(tl.int64))",
                    "vv = w - cnt * th", *clamp("vv", str(lo16), str(hi16)),
                    f"tl.store(s_ptr + {voff}, cnt.to(tl.float32), mask=cm)"]
        else:           # a readout: threshold STATE_MAX, v stored after the reset
            out += [f"vv = w - tl.where(w >= {hi16}, {READOUT_SPIKES * hi16}, 0)",
                    store_v.format("vv")]
    else:
        vm = loihi.V_MAX
        out += ["p = vv * vkeep",
                f"p = p + tl.where(p < 0, {loihi.DECAY_UNIT - 1}, 0)",
                f"w = (p >> {loihi.DECAY_BITS}) + ({acc}) + bias", *clamp("w", str(-vm), str(vm)),
                f"tl.store(v_ptr + {voff}, w.to(tl.float32) * {1.0 / UNIT!r}, mask=cm)"]
        if spiking:
            out.append("fired = w > th")
            if multi:
                out += ["den = th", *clamp("den", "1", "16777216"),
                        # exact: integers below 2^25, IEEE double division, trunc = floor
                        # for the positive quotients that matter (negative only if den = 1)
                        "n = ((w - 1).to(tl.float64) / den.to(tl.float64)).to(tl.int64)",
                        *clamp("n", "1", str(cap)),
                        "cnt = tl.where(fired, n, 0).to(tl.int64)"]
            else:
                out.append("cnt = fired.to(tl.int64)")
            if subtract:
                out += ["vv = w - cnt * th", *clamp("vv", str(-vm), str(vm))]
            else:
                out.append("vv = tl.where(fired, 0, w)")
            out.append(f"tl.store(s_ptr + {voff}, cnt.to(tl.float32), mask=cm)")
        else:
            out.append("vv = w")
    return out


def forward_source(name, precision, n_k, depth, spiking, multi, subtract, cap, interpret):
    """The source of the forward kernel ``name`` (see the module docstring); ``cap``: the spike
    cap, ``interpret``: for the interpreter (numpy's division instead of inline PTX)."""
    d = depth
    step = functools.partial(forward_step, precision, n_k, spiking, multi, subtract, cap,
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
            body += rint(f"y{k}", f"tl.load(u0_ptr + {k} * n_m + cols, mask=cm, other=0.0)"
                          f" * {XYLO_UNIT!r}") + [f"u{k} = y{k}.to(tl.int64)"]
        body += rint("y", f"tl.load(v0_ptr + cols, mask=cm, other=0.0) * {XYLO_UNIT!r}")
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
    body += indent(loop, 1)
    rest = [f"xr{k} = tl.load(x_ptr + t * n_km + {k} * n_m + cols, mask=cm, other=0.0)"
            for k in range(n_k)]
    rest += step([f"xr{k}" for k in range(n_k)], "t")
    body.append(f"for t in range(n_full * {d}, n_t):")
    body += indent(rest, 1)
    if precision == "float":
        body.append("tl.store(vl_ptr + cols, vv, mask=cm)")
    else:
        unit = XYLO_UNIT if precision == "xylo" else UNIT
        body.append(f"tl.store(vl_ptr + cols, vv.to(tl.float32) * {1.0 / unit!r}, mask=cm)")
    return "\n".join(lines + indent(body, 1)) + "\n"
