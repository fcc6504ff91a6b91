"""The Triton kernels compiled through Triton's real backend without a GPU
(snnpipe.models.kernels.triton_compile: PTX and ptxas for sm_90): they build, and the float
forward has no fused multiply-add and divides with IEEE ``div.rn.f32``.
"""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

triton = pytest.importorskip("triton", reason="the Triton kernels need triton (pip install "
                             "triton; it comes with torch's CUDA wheels)")

from snnpipe.models.kernels import triton_compile  # noqa: E402

_BIN = Path(triton.__file__).parent / "third_party" / "cuda" / "bin"
_PTXAS = shutil.which("ptxas", path=str(_BIN)) or shutil.which("ptxas")
_CUOBJDUMP = shutil.which("cuobjdump", path=str(_BIN)) or shutil.which("cuobjdump")


def _compile(kind, key, **kw):
    """``compile_offline`` uses Triton 2.3's compiler internals (``CUDABackend``,
    ``ASTSource``); other versions skip, saying so. Errors under 2.3 fail the test."""
    if not triton.__version__.startswith("2.3."):
        pytest.skip(f"offline compilation is written against triton 2.3 (found "
                    f"{triton.__version__}); the CUDA tests cover other versions on a GPU")
    return triton_compile.compile_offline(kind, key, **kw)


@pytest.mark.skipif(_PTXAS is None or _CUOBJDUMP is None, reason="needs ptxas and cuobjdump")
def test_compiled_float_forward_has_no_fma(tmp_path):
    """Compiled for sm_90 with the launch options: the float forward keeps separate multiply
    and add (``mul.rn`` / ``add.rn``, no FFMA in SASS); multi-spikes divide with IEEE
    ``div.rn.f32`` (neither ``div.full`` nor the FTZ libdevice division)."""
    out = _compile("forward", ("float", 2, 2, 1, 0, 1, 31, False))
    ptx = out["ptx"]
    assert "fma" not in ptx and "mul.rn.f32" in ptx and "add.rn.f32" in ptx
    (tmp_path / "k.cubin").write_bytes(out["cubin"])
    sass = subprocess.run([_CUOBJDUMP, "-sass", str(tmp_path / "k.cubin")], capture_output=True,
                          text=True, check=True).stdout
    assert "FMUL" in sass and "FFMA" not in sass
    ptx = _compile("forward", ("float", 1, 2, 1, 1, 1, 31, False))["ptx"]
    assert re.search(r"div\.rn\.f32", ptx) and not re.search(r"div\.(full|approx)|\.ftz", ptx)
    # the default options would have fused: the reason for enable_fp_fusion=False
    assert "fma.rn.f32" in _compile("forward", ("float", 1, 2, 1, 0, 1, 31, False),
                                    fp_fusion=True)["ptx"]


@pytest.mark.skipif(_PTXAS is None, reason="needs ptxas")
def test_integer_and_backward_kernels_compile():
    for precision in ("loihi", "xylo"):
        ptx = _compile("forward", (precision, 2, 4, 1, 1, 1, 31, False))["ptx"]
        assert "div.rn.f64" in ptx and "shr.s64" in ptx and "fma" not in ptx
    _compile("backward", (2, 4, 1, 1, (-32.0, 31.9990234375), 1, 1, 1, 1, 1))
    _compile("backward", (1, 2, 0, 0, None, 0, 0, 0, 1, 0))
    # integer arguments equal to 1 become constants at launch (T = 1, one column, ...)
    _compile("forward", ("float", 1, 4, 1, 1, 1, 31, False), ones=("n_t", "n_m"))
    _compile("backward", (1, 4, 1, 1, None, 1, 1, 1, 1, 0), ones=("n_full", "n_rem"))
