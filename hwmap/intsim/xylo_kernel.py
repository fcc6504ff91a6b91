"""Numba loop of the Xylo-style simulator's ordered path (:mod:`snnpipe.hwmap.intsim.xylo`):
the entries (sample, current) whose step input could leave 16 bits get their events added one
source at a time, in ascending source order, each addition saturating, as the chip (and
xylosim) does. Compiled on first use (``cache=True``: later processes load it from
``__pycache__``). The 16-bit range of :mod:`snnpipe.hwmap.targets.xylo` is compiled in.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from snnpipe.hwmap.targets.xylo import STATE_MAX, STATE_MIN


@njit(cache=True, nogil=True)
def ordered_sum(cur, b, k, ev, w):
    """For each entry i: ``cur[b[i], k[i]]`` plus ``ev[b[i], j] * w[j, k[i]]`` for the sources
    j with events, in ascending j, saturated to 16 bits after each source (the events of one
    source add ``count * w`` at once: that saturates as ``count`` additions of ``w`` do, since
    the increments share a sign). cur (B, K) int32, b and k (E,) int64, ev (B, S) int32, w
    (S, K) int32. Returns (E,) int64."""
    n_src = ev.shape[1]
    out = np.empty(b.shape[0], np.int64)
    last = -1
    active = np.empty(n_src, np.int64)
    n_active = 0
    for i in range(b.shape[0]):
        bi, ki = b[i], k[i]
        if bi != last:                      # entries come sample by sample (np.nonzero order)
            n_active = 0
            for j in range(n_src):
                if ev[bi, j] != 0:
                    active[n_active] = j
                    n_active += 1
            last = bi
        acc = np.int64(cur[bi, ki])
        for a in range(n_active):
            j = active[a]
            acc += np.int64(ev[bi, j]) * np.int64(w[j, ki])
            acc = min(max(acc, STATE_MIN), STATE_MAX)
        out[i] = acc
    return out
