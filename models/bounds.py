"""Declarative bounds on trainable parameters, enforced by clamping or reported as a penalty.

A :class:`Bounds` maps parameter-name patterns (``fnmatch`` on ``named_parameters`` names, e.g.
``"*.current_decay"``) to ``(lower, upper)``; ``None`` means unbounded on that side.
"""
from __future__ import annotations

from fnmatch import fnmatch

import torch

DEFAULT = {
    "*current_decay": (0.0, 1.0),     # fraction lost per step
    "*voltage_decay": (0.0, 1.0),
    "*threshold": (0.0, None),        # float units of the weighted input
    "*delay": (0.0, 62.0),            # axonal delays, steps
}


class Bounds:
    """Per-parameter lower/upper bounds.

    Args:
        rules: ``{pattern: (lower, upper)}``; the first matching pattern wins. Bounds may be
            scalars or tensors broadcastable to the parameter.
    """

    def __init__(self, rules: dict | None = None):
        self.rules = dict(DEFAULT if rules is None else rules)

    def _matches(self, module: torch.nn.Module):
        for name, p in module.named_parameters():
            for pattern, (lo, hi) in self.rules.items():
                if fnmatch(name, pattern):
                    yield name, p, lo, hi
                    break

    def clamp_(self, module: torch.nn.Module) -> None:
        """Clamp every bounded parameter in place (call after ``optimizer.step()``)."""
        with torch.no_grad():
            for _, p, lo, hi in self._matches(module):
                p.copy_(p.clamp(min=lo, max=hi))

    def penalty(self, module: torch.nn.Module) -> torch.Tensor:
        """Sum of squared bound violations (0 when all hold); add it, weighted, to the loss."""
        total = torch.zeros(())
        for _, p, lo, hi in self._matches(module):
            if lo is not None:
                total = total + ((lo - p).clamp_min(0) ** 2).sum()
            if hi is not None:
                total = total + ((p - hi).clamp_min(0) ** 2).sum()
        return total

    def violations(self, module: torch.nn.Module) -> dict:
        """``{name: (min, max)}`` of the parameters outside their bounds."""
        out = {}
        for name, p, lo, hi in self._matches(module):
            if (lo is not None and (p < lo).any()) or (hi is not None and (p > hi).any()):
                out[name] = (float(p.min()), float(p.max()))
        return out
