"""The error hierarchy of snnpipe (DESIGN.md section 2).

Every error says where (file, node or layer, field), what was expected and what was found.
The CLI maps :class:`SnnpipeError` to exit code 2 (bad input) and :class:`VerificationError`
to exit code 1.
"""
from __future__ import annotations


class SnnpipeError(Exception):
    """Base class of every error snnpipe raises on purpose.

    Args:
        message: what is wrong, in words a user can act on.
        file: the file concerned, if any.
        where: the node, layer, edge or population concerned, if any.
        field: the attribute or dataset concerned, if any.
        expected: what a valid value looks like.
        found: what was found instead.
    """

    def __init__(self, message: str, *, file=None, where=None, field=None,
                 expected=None, found=None):
        self.message = message
        self.file = None if file is None else str(file)
        self.where = where
        self.field = field
        self.expected = expected
        self.found = found
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.where is not None:
            parts.append(str(self.where))
        if self.field is not None:
            parts.append(str(self.field))
        text = self.message
        if self.expected is not None:
            text += f" (expected {self.expected}"
            text += f", found {self.found})" if self.found is not None else ")"
        elif self.found is not None:
            text += f" (found {self.found})"
        return (": ".join(parts) + ": " + text) if parts else text


class FormatError(SnnpipeError):
    """A file cannot be read as what it claims to be (HDF5, config, spike raster...)."""


class GraphError(SnnpipeError):
    """The graph is inconsistent: shapes, kinds, parameters, cycles."""


class CapacityError(SnnpipeError):
    """The network does not fit the target's limits (neurons, synapses, cores, chips)."""


class QuantizationError(SnnpipeError):
    """Parameters cannot be represented in the target's number formats."""


class BackendError(SnnpipeError):
    """A backend (Lava, a simulator, a reference package) is missing or failed."""


class VerificationError(SnnpipeError):
    """Two implementations disagree."""


class ValidationErrors(SnnpipeError):
    """Several problems found at once; ``problems`` holds each as an SnnpipeError."""

    def __init__(self, problems, *, file=None):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s):\n{lines}", file=file)
