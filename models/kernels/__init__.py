"""Fused kernels of the neuron dynamics (the time loop and its backward in one call).

:func:`select` decides, per call of :func:`snnpipe.models.populations.cuba.run`, whether the fused kernel
or the reference sequence function runs: ``kernel`` (argument) or the ``SNNPIPE_KERNEL``
environment variable, one of ``auto`` (default: fused where supported), ``fused`` (fused where
supported; the reference otherwise, as auto) or ``reference`` (always the reference functions,
which remain the specification the kernels are tested against). The same choice switches the
sparse spike projections of the dense synapses (:func:`project`): ``reference`` keeps the
plain matmul.

Modules: :mod:`.cuba_fused` (the entry point and its case selection), :mod:`.cuba_function`
(the autograd Function), the loops in :mod:`.cuba_numba` (variant selection) with
:mod:`.cuba_numba_forward` / :mod:`.cuba_numba_backward`, :mod:`.cuba_torch` (torch ops) and
:mod:`.cuba_triton` (Triton drop-ins; :mod:`.triton_runtime`, :mod:`.triton_forward_source`,
:mod:`.triton_backward_source`, :mod:`.triton_lines`, :mod:`.triton_compile`);
:mod:`.spike_dense` (sparse spike projections); :mod:`.fft_fir` and :mod:`.fir` (the loss
filters); :mod:`.numba_options` (what the numba loops share).
"""
from __future__ import annotations

import os

from snnpipe.pipeline.ir.errors import SnnpipeError

KERNELS = ("auto", "fused", "reference")
ENV = "SNNPIPE_KERNEL"


def choice(kernel: str | None = None) -> str:
    """The kernel asked for: ``kernel`` if given, else ``$SNNPIPE_KERNEL``, else ``auto``."""
    kernel = kernel or os.environ.get(ENV, "auto")
    if kernel not in KERNELS:
        raise SnnpipeError("unknown kernel", field=f"kernel (or ${ENV})", expected=KERNELS,
                           found=kernel)
    return kernel


def project(x, w):
    """``W @ x`` of spike trains by the sparse gathers of :mod:`snnpipe.models.kernels.spike_dense`
    (a (B, N, T) view of time-major memory), or None where they do not apply, numba is
    missing or the reference is asked for: the caller then runs the dense matmul."""
    if choice() == "reference":
        return None
    try:
        from snnpipe.models.kernels import spike_dense
    except ImportError:         # numba missing
        return None
    return spike_dense.project(x, w)


def select(x, p, state, precision: str, kernel: str | None = None):
    """The fused sequence function for this call, or None where the reference must run."""
    if choice(kernel) == "reference":
        return None
    global _fused
    if _fused is None:
        from snnpipe.models.kernels import cuba_fused as _fused
    return _fused.cuba_fused if _fused.supports(x, p, state, precision) else None


_fused = None           # snnpipe.models.kernels.cuba_fused, imported on first use (it imports torch)
