"""Launcher and interpreter glue of the Triton kernels (:mod:`.cuba_triton`): builds a kernel
variant from its generated source (:func:`source`, :func:`kernel`), launches it on a CUDA
device or, for CPU tensors, through ``triton.runtime.interpreter`` (:func:`launch`), and picks
the columns per program (:func:`block_size`).

A variant is ``(kind, key)``: ``kind`` ``forward`` or ``backward``, ``key`` the arguments of
:func:`snnpipe.models.kernels.triton_forward_source.forward_source` /
:func:`~snnpipe.models.kernels.triton_backward_source.backward_source` after the name. The
2.3.1 interpreter lacks the int32 / float64 casts of its builder and patches
``triton.language`` globally while it runs: :func:`interpreting` adds the casts and undoes the
patches after each launch, so that compiled kernels still build in the same process. Without
triton importable the module imports and :func:`available` is False.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import linecache

import torch

try:
    import triton
    import triton.language as tl
except ImportError:         # the core imports without triton; available() is False
    triton = None
    tl = None

from snnpipe.models.kernels.triton_backward_source import backward_source
from snnpipe.models.kernels.triton_forward_source import forward_source

MAX_BLOCK = 256             # columns per program at most (one column per thread)


def available() -> bool:
    """Whether triton is importable (the kernels also need a CUDA device to run compiled)."""
    return triton is not None


def source(kind: str, key: tuple) -> tuple[str, str]:
    """(function name, source) of the kernel variant ``kind`` (``forward``/``backward``)."""
    tag = hashlib.md5(repr((kind, key)).encode()).hexdigest()[:12]
    name = f"_cuba_{kind}_{tag}"
    if kind == "forward":
        return name, forward_source(name, *key)
    return name, backward_source(name, *key)


@contextlib.contextmanager
def interpreting():
    """Around an interpreted launch: give the 2.3.1 interpreter's builder the int32 and
    float64 types it lacks (casts to them), and undo its global patches of
    ``triton.language`` afterwards (so that compiled kernels still build in this process)."""
    from triton.runtime import interpreter
    shims = {"get_int32_ty": lambda: tl.int32, "get_double_ty": lambda: tl.float64}
    shims = {k: f for k, f in shims.items() if not hasattr(interpreter.builder, k)}
    saved = [(obj, dict(vars(obj))) for obj in (tl, tl.math, tl.tensor)]
    for k, f in shims.items():
        setattr(interpreter.builder, k, f)
    try:
        yield
    finally:
        for k in shims:
            delattr(interpreter.builder, k)
        for obj, before in saved:
            for attr in [a for a in list(vars(obj)) if a not in before]:
                delattr(obj, attr)
            for attr, value in before.items():
                if vars(obj).get(attr, None) is not value:
                    setattr(obj, attr, value)


@functools.lru_cache(maxsize=None)
def kernel(kind: str, key: tuple, interpret: bool):
    """The kernel variant: ``triton.jit`` of the generated function, or the interpreter's
    wrapper of it for CPU tensors (``interpret``)."""
    name, src = source(kind, key)
    filename = f"<snnpipe cuba_triton {name}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    namespace = {"tl": tl, "__name__": __name__}
    exec(compile(src, filename, "exec", dont_inherit=True), namespace)  # noqa: S102
    fn = namespace[name]
    if interpret:
        from triton.runtime.interpreter import InterpretedFunction
        return InterpretedFunction(fn)
    return triton.jit(fn)


def launch(kind, key, interpret, n_m, device, args, fp_fusion, block=None):
    """Run the variant ``(kind, key)`` over ``n_m`` columns with the kernel arguments ``args``:
    compiled on ``device`` or, with ``interpret``, through the interpreter; ``fp_fusion``:
    Triton's ``enable_fp_fusion``; ``block``: columns per program (default
    :func:`block_size`)."""
    if block is None:
        block = block_size(n_m, device)
    kern = kernel(kind, key, interpret)
    grid = (triton.cdiv(n_m, block),)
    opts = dict(BLOCK=block, num_warps=max(1, min(8, block // 32)), enable_fp_fusion=fp_fusion)
    if interpret:
        with interpreting():
            kern[grid](*args, **opts)
    else:
        with torch.cuda.device(device):      # triton launches on the current device
            kern[grid](*args, **opts)


@functools.lru_cache(maxsize=None)
def _sm_count(index) -> int:
    return torch.cuda.get_device_properties(index).multi_processor_count


def block_size(n_m: int, device) -> int:
    """Columns per program: enough programs to cover every SM (the time loop is latency
    bound: more, smaller programs run more recursions at once), 32 .. MAX_BLOCK."""
    n_sm = _sm_count(device.index if device.index is not None else torch.cuda.current_device()) \
        if device.type == "cuda" else 4
    want = -(-n_m // n_sm)
    block = 32
    while block < want and block < MAX_BLOCK:
        block *= 2
    return block

