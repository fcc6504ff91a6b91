"""Offline compilation of the Triton kernels (:func:`compile_offline`): a kernel variant through
Triton 2.3's real CUDA backend without a GPU, for the tests that check that the kernels build
and what PTX / SASS they produce (no FMA in the float forward, IEEE divisions).
"""
from __future__ import annotations

from snnpipe.models.kernels import triton_runtime
from snnpipe.models.kernels.cuba_triton import BACKWARD_FP_FUSION


def compile_offline(kind: str, key: tuple, block: int = 128, capability: int = 90,
                    fp_fusion: bool | None = None, ones: tuple = ()) -> dict:
    """Compile a kernel variant through Triton's real backend (TTIR -> TTGIR -> LLVM IR -> PTX ->
    cubin with the bundled ptxas) for ``sm_<capability>`` without a GPU; returns the stages'
    text / bytes by name (``ttir``, ``ttgir``, ``llir``, ``ptx``, ``cubin``). ``key`` as
    :func:`.cuba_triton.forward` / :func:`.cuba_triton.backward` build it (its last forward
    entry, ``interpret``, must be False). ``ones``: the integer arguments (``n_t``, ``n_m``,
    ``n_full``, ``n_rem``) that are 1, which a launch specialises into constants. Used by the
    tests to check that the kernels compile and what PTX they produce (no FMA in the float
    forward, IEEE divisions)."""
    from triton.compiler.backends.cuda import CUDABackend
    from triton.compiler.compiler import ASTSource

    if fp_fusion is None:
        fp_fusion = BACKWARD_FP_FUSION if kind == "backward" else False
    fn = triton_runtime.kernel(kind, key, False)
    if kind == "forward":
        pt = "*fp32" if key[0] == "float" else "*i64"
        types = ["*fp32"] + [pt] * 4 + ["*fp32"] * 6 + ["i32"] * 3
    else:
        types = ["*fp32"] * 19 + ["i32"] * 4
    names = ["n_t", "n_m", "n_full", "n_rem"]
    constants = {len(types) - types[::-1].index("*fp32") + names.index(n): 1 for n in ones}
    src = ASTSource(fn, dict(enumerate(types)), {len(types): block, **constants})
    backend = CUDABackend(("cuda", capability))
    opts = backend.parse_options(dict(num_warps=max(1, min(8, block // 32)),
                                      enable_fp_fusion=fp_fusion))
    stages: dict = {}
    backend.add_stages(stages, opts)
    meta = {"target": ("cuda", capability), **opts.__dict__, **src.metadata()}
    module, out = src.make_ir(opts), {}
    for ext, step in stages.items():
        module = step(module, meta)
        out[ext] = module
    return out
