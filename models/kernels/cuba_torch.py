"""The fused CUBA loops as torch elementwise ops per time step (any device): the CUDA fallback
where triton is missing, and the specification the Triton kernels (:mod:`.cuba_triton`) are
tested against on the CPU.

:func:`forward` ``(x, cols, u0, v0, cfg) -> (s, u, v, v_last)`` and :func:`backward`
``(grads, slayer, tau, coef, u, v, s, cols, states, cfg, x=None) -> (gx, ga, gb, gth,
gbias)`` compute what the numba loops (:mod:`.cuba_numba_forward`,
:mod:`.cuba_numba_backward`) do, on the same time-major buffers: x, u, gx (T, K, M), s, v
(T, M), M = batch * neurons columns; parameters and states per column, float units (the
integer precisions compute with the rules of :mod:`snnpipe.hwmap.targets.loihi` /
:mod:`~snnpipe.hwmap.targets.xylo` inside; v is pre-reset, except for a xylo population
without threshold, whose v is after the readout's reset by ``STATE_MAX``: see
:func:`_forward_xylo`); ``cfg`` a
:class:`snnpipe.models.kernels.cuba_function.Config`. :func:`spike_buffer`: the spike output
buffer of the numba and torch loops (rows 1.. of a zero-led buffer; the Triton drop-ins make
the same).
"""
from __future__ import annotations

import torch

from snnpipe.hwmap.targets import loihi, xylo

LOIHI_UNIT = float(loihi.DECAY_UNIT)       # state units per float unit of the loihi precision


def spike_buffer(n_t: int, n_m: int, spiking: int, device) -> torch.Tensor:
    """The (T, M) spike output, rows 1.. of a (T + 1, M) buffer whose row 0 is zero: the
    block's one-step output delay (:func:`snnpipe.models.block.base.shift`) is then a view of the
    buffer instead of a copy. (1, M) when not spiking."""
    if not spiking:
        return torch.empty(1, n_m, device=device)
    buf = torch.empty(n_t + 1, n_m, device=device)
    buf[0].zero_()
    return buf[1:]


def forward(x, cols, u0, v0, cfg):
    """The forward loops of :mod:`.cuba_numba_forward` as torch elementwise ops per step (any
    device). x (T, K, M); cols = (a (K, M), b, theta, bias (M,)) float units (loihi:
    cfg.ints give the integer parameters); u0 (K, M), v0 (M,). Returns s, u, v, v_last as
    the numba kernel's buffers."""
    n_t, n_k, n_m = x.shape
    dev = x.device
    u = torch.empty(n_t, n_k, n_m, device=dev)
    v = torch.empty(n_t, n_m, device=dev)
    s = spike_buffer(n_t, n_m, cfg.spiking, dev)
    if cfg.precision == "loihi":
        i_decay, v_decay, theta_i, bias_i = (torch.as_tensor(q, device=dev) for q in cfg.ints)
        reps = n_m // theta_i.shape[-1]
        i_decay, v_decay, theta_i, bias_i = (q.repeat(1, reps) if q.dim() == 2 else q.repeat(reps)
                                             for q in (i_decay, v_decay, theta_i, bias_i))
        ui = (u0 * LOIHI_UNIT).long()
        vi = (v0 * LOIHI_UNIT).long()
        for t in range(n_t):
            ui = loihi.wrap_current(loihi.decay(ui, i_decay) + (LOIHI_UNIT * x[t]).long())
            w = loihi.voltage_step(vi, ui.sum(0), v_decay, bias_i)
            u[t] = ui / LOIHI_UNIT
            v[t] = w / LOIHI_UNIT
            if cfg.spiking:
                fired = w > theta_i
                if cfg.multi:
                    c = torch.where(fired, ((w - 1) // theta_i.clamp_min(1))
                                    .clamp(1, loihi.MAX_SPIKES), 0)
                else:
                    c = fired.long()
                if cfg.subtract:
                    vi = loihi.saturate_voltage(w - c * theta_i)
                else:
                    vi = torch.where(fired, 0, w)
                s[t] = c
            else:
                vi = w
        return s, u, v, vi / LOIHI_UNIT
    if cfg.precision == "xylo":
        return _forward_xylo(x, u0, v0, s, u, v, cfg)
    a, b, theta, bias = cols
    ut, vt = u0, v0
    for t in range(n_t):
        ut = ut * a + x[t]
        vp = vt * b + ut.sum(0) + bias
        u[t] = ut
        v[t] = vp
        if cfg.spiking:
            fired = vp > theta
            if cfg.multi:
                c = torch.where(fired, (torch.ceil(vp / theta) - 1).clamp(1, loihi.MAX_SPIKES),
                                torch.zeros_like(vp))
            else:
                c = fired.to(vp.dtype)
            vt = vp - c * theta if cfg.subtract else torch.where(fired, torch.zeros_like(vp), vp)
            s[t] = c
        else:
            vt = vp
    return s, u, v, vt


def _forward_xylo(x, u0, v0, s, u, v, cfg):
    """The xylo branch of :func:`forward`: the rules of :mod:`snnpipe.hwmap.targets.xylo`
    (as :func:`snnpipe.models.neurons.cuba_xylo.cuba_step_xylo`) on (K, M) / (M,) columns.
    Without threshold (an ``li`` readout) the neuron is the chip's output neuron whose
    threshold is ``xylo.STATE_MAX``: V reaching it is reduced by ``STATE_MAX`` (no spikes
    written), and v records that post-reset V, the state carried, as the reference."""
    n_m = x.shape[2]
    unit = xylo.UNIT
    dash_syn, dash_mem, theta_i, bias_i = (torch.as_tensor(q, device=x.device) for q in cfg.ints)
    reps = n_m // theta_i.shape[-1]
    dash_syn, dash_mem, theta_i, bias_i = (q.repeat(1, reps) if q.dim() == 2 else q.repeat(reps)
                                           for q in (dash_syn, dash_mem, theta_i, bias_i))
    ii = torch.round(u0 * unit).long()
    vi = torch.round(v0 * unit).long()
    readout_theta = torch.full_like(vi, xylo.STATE_MAX)
    for t in range(x.shape[0]):
        ii = xylo.current_step(xylo.sat16(ii + torch.round(x[t] * unit).long()), dash_syn)
        w = xylo.membrane_step(vi, ii.sum(0), dash_mem, bias_i)
        u[t] = ii / unit
        if cfg.spiking:
            v[t] = w / unit
            c, vi = xylo.spike_count(w, theta_i, cfg.max_spikes)
            s[t] = c
        else:       # a readout: an output neuron whose threshold is the largest state
            _, vi = xylo.spike_count(w, readout_theta, xylo.OUTPUT_CAP)
            v[t] = vi / unit
    return s, u, v, vi / unit


def backward(grads, slayer, tau, coef, u, v, s, cols, states, cfg, x=None):
    """The backward loop of :mod:`.cuba_numba_backward` as torch ops (any device); x
    (T, K, M), the input, is needed by the xylo precision only (input before decay).
    Returns gx (T, K, M), ga (K, M), gb, gth, gbias (M,)."""
    n_t, n_k, n_m = u.shape
    a, b, theta, _ = cols
    u0, v0 = states
    gs, gu, gv = grads["gs"], grads["gu"], grads["gv"]
    gs = None if gs is None else gs.reshape(n_t, n_m)
    gv = None if gv is None else gv.reshape(n_t, n_m)
    gu = None if gu is None else gu.reshape(n_t, n_k, n_m)
    gx = torch.empty_like(u)
    g_v = torch.zeros(n_m, device=u.device)
    g_u = torch.zeros(n_k, n_m, device=u.device)
    acc_a = torch.zeros(n_k, n_m, device=u.device)
    acc_b, acc_th, acc_bias = (torch.zeros(n_m, device=u.device) for _ in range(3))
    v_lo, v_hi = cfg.v_range
    for t in range(n_t - 1, -1, -1):
        if t == 0:
            vprev = v0
        else:
            vprev = v[t - 1]
            if cfg.spiking:
                c = s[t - 1]
                if cfg.subtract:
                    vq = vprev - c * theta
                    if cfg.saturate:
                        vq = vq.clamp(v_lo, v_hi)
                    vprev = torch.where(c > 0, vq, vprev)
                else:
                    vprev = torch.where(c > 0, torch.zeros_like(vprev), vprev)
        g = b * g_v
        if gv is not None:
            g = g + gv[t]
        if cfg.spiking and gs is not None:
            gsd = gs[t]
            if slayer:
                gsd = gsd * (coef * torch.exp(-(v[t] - theta).abs() / tau))
            g = g + gsd
            acc_th = acc_th - gsd
        acc_bias = acc_bias + g
        acc_b = acc_b + g * vprev
        g_v = g
        gk = g_v + a * g_u
        if gu is not None:
            gk = gk + gu[t]
        g_u = gk
        up = u0 if t == 0 else u[t - 1]
        if x is not None:                   # u_t = a (u_{t-1} + x_t)
            gx[t] = a * gk
            acc_a = acc_a + gk * (up + x[t])
        else:                               # u_t = a u_{t-1} + x_t
            gx[t] = gk
            acc_a = acc_a + gk * up
    return gx, acc_a, acc_b, acc_th, acc_bias
