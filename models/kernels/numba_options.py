"""Shared settings of the numba CPU loops (:mod:`.cuba_numba_forward`,
:mod:`.cuba_numba_backward`, :mod:`.fir`, :mod:`.spike_dense`).

``OPTS``: the ``njit`` options every loop compiles with (no GIL, no bounds checks, numpy's
error model: no exceptions raised from divisions in the inner loops). ``U``: the unsigned
index type of the loops' flat offsets: numba adds no negative-index wraparound to unsigned
indices, so LLVM sees affine addresses and vectorises (signed indices: 3x slower).

Importing this module widens LLVM's budget of runtime alias checks, process-wide: LLVM
vectorises a loop over several arrays only after runtime checks that they do not overlap;
its default budget (8 pointer pairs) is below what these loops touch, which left them scalar
(3-8x slower). The option only widens that budget.
"""
from __future__ import annotations

import llvmlite.binding as llvm
import numpy as np

try:
    llvm.set_option("snnpipe", "-runtime-memory-check-threshold=128")
except Exception:       # pragma: no cover - an LLVM without the option: scalar loops
    pass

OPTS = dict(nogil=True, boundscheck=False, error_model="numpy")
U = np.uint64           # unsigned indices (see the module docstring)
