"""Source generator of the Triton backward kernel of the fused CUBA sequence
(:func:`backward_source`, one variant per number of currents K, prefetch depth D and flags;
launched by :func:`snnpipe.models.kernels.cuba_triton.backward`).

The generated kernel ``name(gs_ptr, gu_ptr, gv_ptr, itau_ptr, coef_ptr, u_ptr, v_ptr, s_ptr,
u0_ptr, v0_ptr, a_ptr, b_ptr, th_ptr, x_ptr, gx_ptr, ga_ptr, gb_ptr, gth_ptr, gbias_ptr, n_t,
n_m, n_full, n_rem, BLOCK)`` runs the adjoint of the float recursion from T - 1 down to 0 for
``BLOCK`` columns: output gradients gs, gv (T, M), gu (T, K, M); the recorded u (T, K, M), v,
s (T, M); per column a (K, M), b, theta, SLAYER's ``1 / tau`` and coefficient (M,); writes gx
(T, K, M) and the per-column parameter gradients ga (K, M), gb, gth, gbias (M,). The
``n_rem`` steps that do not fill a chunk run first in a plain loop, then ``n_full`` chunks of
D steps with the inputs of step t - D prefetched, then the step 0 (reading the initial
state). Flags: ``spiking``, ``subtract``, ``saturate`` (None or the (lo, hi) voltage range of
the recomputed reset), ``slayer`` (SLAYER's surrogate evaluated here), ``has_gs``/``has_gu``/
``has_gv``, ``input_first`` (xylo: ``u_t = a (u_{t-1} + x_t)``).
"""
from __future__ import annotations

from snnpipe.models.kernels.triton_lines import clamp, indent


def backward_step(n_k, spiking, subtract, saturate, slayer, has_gs, has_gu, has_gv,
                  input_first, row, ld, first):
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
                    out += clamp("vq", repr(float(saturate[0])), repr(float(saturate[1])))
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


def backward_streams(n_k, spiking, has_gs, has_gu, has_gv, input_first):
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


def backward_source(name, n_k, depth, spiking, subtract, saturate, slayer, has_gs, has_gu,
                    has_gv, input_first):
    """The source of the backward kernel ``name`` (see the module docstring)."""
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
    streams = backward_streams(n_k, spiking, has_gs, has_gu, has_gv, input_first)

    def load(nm, ptr, koff, stride, shift, row, mask="cm"):
        r = f"({row}) - 1" if shift else f"({row})"
        return f"tl.load({ptr} + ({r}) * {stride} + {koff}cols, mask={mask}, other=0.0)"

    # rows n_t - 1 .. 1 + n_full * D (the steps that do not fill a chunk), plain loads
    rest = ["t = n_t - 1 - tt"]
    ld = {}
    for nm, ptr, koff, stride, shift in streams:
        rest.append(f"r_{nm} = " + load(nm, ptr, koff, stride, shift, "t"))
        ld[nm] = f"r_{nm}"
    rest += backward_step(*flags, "t", ld, False)
    body.append("for tt in range(n_rem):")
    body += indent(rest, 1)
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
        loop += backward_step(*flags, row, {nm: f"{nm}_{j}" for nm, *_ in streams}, False)
        for nm, ptr, koff, stride, shift in streams:
            loop.append(f"{nm}_{j} = " + load(nm, ptr, koff, stride, shift,
                                              f"c * {d} + {1 + j - d}", "cm & (c > 0)"))
    body.append("for cc in range(n_full):")
    body += indent(loop, 1)
    # step 0
    first = {}
    for nm, ptr, koff, stride, shift in streams:
        if not shift:
            body.append(f"z_{nm} = " + load(nm, ptr, koff, stride, 0, "0"))
            first[nm] = f"z_{nm}"
    body += backward_step(*flags, "0", first, True)
    body += ["tl.store(gb_ptr + cols, acc_b, mask=cm)",
             "tl.store(gth_ptr + cols, acc_th, mask=cm)",
             "tl.store(gbias_ptr + cols, acc_bias, mask=cm)"]
    body += [f"tl.store(ga_ptr + {k} * n_m + cols, acc_a{k}, mask=cm)" for k in range(n_k)]
    return "\n".join(lines + indent(body, 1)) + "\n"
