"""Xylo's event-ordered saturating input for the graph runner (:mod:`snnpipe.models.from_graph`,
``xylo`` precision): where a step's input could leave 16 bits, the chip adds events one by one
with saturation, in the order it processes its sources."""
from __future__ import annotations

import torch

from snnpipe.hwmap.targets import xylo
from snnpipe.hwmap.targets.xylo import UNIT as XYLO_UNIT


def hop_matrix(h, w: torch.Tensor) -> torch.Tensor | None:
    """The (N_dst, N_src) matrix of one term of a hop (:class:`snnpipe.models.from_graph.Hop`;
    None for a conv too large for one)."""
    if h.op == "dense":
        return w
    if h.op == "identity":
        return torch.diag(w)
    m = h.conv.get("matrix")
    return None if m is None else m * h.in_scale[None, :]


def xylo_ordered(u: torch.Tensor, z: torch.Tensor, events: list):
    """Xylo's event-ordered saturating input (DESIGN.md 6.2, step 1) for one population.

    ``u`` (B, n_syn, N) currents before the step, ``z`` (B, n_syn, N) the summed input, both
    float units; ``events``: [(rank, hop, weight term, source counts (B, N_src))]. Where
    ``|I| + sum |w| * count`` can leave 16 bits, the counts of each source neuron are added in
    (rank, neuron) order with saturation (``count * w`` at once saturates as ``count`` additions
    of ``w``). Returns the input that makes ``sat16(I + x)`` equal the ordered result, and the
    mask of the currents so treated. Convolutions above ``MAX_CONV_MATRIX`` stay summed.
    """
    unit = XYLO_UNIT
    i0 = torch.round(u * unit).long()
    bound = i0.abs().double()
    events = [(r, h, hop_matrix(h, w), src) for r, h, w, src in events]
    events = [e for e in events if e[2] is not None]
    for _, h, w, src in events:
        bound[:, h.syn] += src.abs() @ w.abs().T * unit
    mask = bound > xylo.STATE_MAX
    if not mask.any():
        return z, mask
    acc = i0.clone()
    for _, h, w, src in sorted(events, key=lambda e: e[0]):
        wi = torch.round(w * unit).long()
        counts = torch.round(src).long()
        for j in torch.nonzero(counts.any(0)).flatten().tolist():
            acc[:, h.syn] = xylo.sat16(acc[:, h.syn] + counts[:, j:j + 1] * wi[:, j])
    z = torch.where(mask, (acc - i0).to(z.dtype) / unit, z)
    return z, mask
