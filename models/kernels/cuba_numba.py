"""Numba CPU kernel of the fused CUBA sequence: compiles and picks the loop variant of a call.

:func:`kernel` returns the compiled loop (``forward_float``, ``forward_loihi``,
``forward_xylo`` of :mod:`.cuba_numba_forward`, ``backward`` of :mod:`.cuba_numba_backward`)
for a set of mode flags, and :func:`chunk_size` the columns per work item.

Each loop runs the whole time loop of a chunk of columns per iteration, parallel over the
chunks (``prange``). Chunks are ``MAX_CHUNK`` columns (4 KiB rows of float32) or an aligned
share per thread: with 256-column chunks of 2048 columns every step's row was a new 4 KiB
page, which the hardware prefetcher does not cross, and the forward ran two to three times
slower; whole 2048-column rows pushed the backward's per-chunk state out of L1. Time is the
outer loop and the columns of the chunk the inner, contiguous one, so that the independent
recursions overlap and vectorise (the time recursion of one neuron alone is a chain of
dependent operations). States live in small per-chunk arrays; outputs are preallocated
(nothing is allocated per step).

Array layout, time-major with batch and neurons as one axis of ``M = B * N`` columns (all
C-contiguous): input ``x`` (T, K, M) float32 (K = n_syn synaptic currents), outputs ``u``
(T, K, M), ``s``, ``v`` (T, M); states ``u0`` (K, M), ``v0`` (M,) float32; parameters per
neuron, (K, N) or (N,). With batch inside the contiguous axis a small layer (SynNet: 24
neurons, batch 8) still runs long vectorised loops. The loops index flattened views with
unsigned offsets (:data:`snnpipe.models.kernels.numba_options.U`), which LLVM vectorises; the
mode flags (spiking, multi-spike, subtractive reset, which gradients exist, ...) are
compile-time constants of one compiled variant each (:func:`kernel` compiles a variant on its
first use), so that the inner loops carry no branches on them (runtime flags made the loops
about twice slower).

Threads: each variant is compiled serial or parallel; :func:`kernel` picks one from
``$SNNPIPE_KERNEL_THREADS`` (default 1: the serial loop, numba's thread pool is never started;
0: all of numba's threads). On the shared 2-core development machine a started pool of two
numba workers next to torch's OpenMP pool made a training step 10-15 times slower (spinning
OpenMP workers), and with ``OMP_WAIT_POLICY=PASSIVE`` two threads were no faster than one.
"""
from __future__ import annotations

import functools
import os

import numba
from numba import njit

from snnpipe.models.kernels.cuba_numba_backward import make_backward
from snnpipe.models.kernels.cuba_numba_forward import (make_forward_float, make_forward_loihi,
                                                       make_forward_xylo)
from snnpipe.models.kernels.numba_options import OPTS

ALIGN = 16                    # chunk sizes of the parallel loops: multiples of 16 columns
MAX_CHUNK = 1024              # columns per work item at most
THREADS_ENV = "SNNPIPE_KERNEL_THREADS"
MAKERS = {"forward_float": make_forward_float, "forward_loihi": make_forward_loihi,
          "forward_xylo": make_forward_xylo, "backward": make_backward}


def set_threads() -> int:
    """Set numba's thread count for the calling thread from ``$SNNPIPE_KERNEL_THREADS``
    (default 1, 0 = all of numba's threads); returns it."""
    limit = numba.config.NUMBA_NUM_THREADS
    n = int(os.environ.get(THREADS_ENV, "1"))
    n = limit if n <= 0 else min(n, limit)
    if n > 1:
        numba.set_num_threads(n)
    return n


def kernel(name: str, **flags):
    """The compiled loop ``name`` (``forward_float``, ``forward_loihi``, ``forward_xylo``,
    ``backward``) for the given flags (ints, see :mod:`.cuba_numba_forward` and
    :mod:`.cuba_numba_backward`): parallel when :func:`set_threads` asks for more than one
    thread, else serial. Call as ``run(*arrays, group)`` with ``group = chunk_size(M,
    threads)``; returns ``(run, threads)``."""
    if os.environ.get(THREADS_ENV, "1") == "1":     # the default: a dict lookup per call
        fast = (name, *flags.items())
        run = _SERIAL.get(fast)
        if run is None:
            run = _SERIAL[fast] = _compiled(name, tuple(sorted(
                (k, int(v)) for k, v in flags.items())), False)
        return run, 1
    key = tuple(sorted((k, int(v)) for k, v in flags.items()))
    threads = set_threads()
    return _compiled(name, key, threads > 1), threads


_SERIAL = {}        # (name, *flag items as passed) -> serial variant


@functools.lru_cache(maxsize=None)
def _compiled(name, key, parallel):
    # the serial variants are cached on disk (numba keys a closure's entry by its flag values)
    return njit(parallel=parallel, cache=not parallel, **OPTS)(MAKERS[name](**dict(key)))


def chunk_size(n_m: int, threads: int) -> int:
    """Columns per work item: ``MAX_CHUNK`` for one thread, else an aligned share each (at
    most ``MAX_CHUNK``)."""
    share = -(-n_m // max(threads, 1))
    return max(1, min(MAX_CHUNK, n_m if threads <= 1 else -(-share // ALIGN) * ALIGN))
