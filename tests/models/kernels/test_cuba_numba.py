"""The numba CPU loops (snnpipe.models.kernels.cuba_numba, cuba_numba_backward): the parallel
variants compute what the serial ones do; the vectorisable exp of the surrogates."""
import pytest
import torch
from kernel_checks import CROSSCHECK, compare, draw


from snnpipe.models.kernels.cuba_fused import cuba_fused
from snnpipe.models.neurons.cuba_loihi import cuba_loihi


def test_parallel_kernel_threads_give_the_same_values(monkeypatch):
    """``SNNPIPE_KERNEL_THREADS=0`` (all of numba's threads) computes what one thread does:
    the forward here (a parallel variant compiles in about 10 s and is never cached on disk),
    the backward too under ``make crosscheck``."""
    from snnpipe.models.kernels import cuba_numba
    x, p, _ = draw(6, "multi", "subtract")
    monkeypatch.setenv(cuba_numba.THREADS_ENV, "0")
    assert cuba_numba.set_threads() >= 1
    with torch.no_grad():
        ref, fused = cuba_loihi(x, p), cuba_fused(x, p, None, "loihi")
    for a, b in zip(ref[:3] + tuple(ref[3][:2]), fused[:3] + tuple(fused[3][:2])):
        assert torch.equal(a, b)


@pytest.mark.parametrize("seed", [pytest.param(6, marks=CROSSCHECK)])
def test_parallel_kernel_threads_give_the_same_values_and_gradients(monkeypatch, seed):
    from snnpipe.models.kernels import cuba_numba
    x, p, leaves = draw(seed, "multi", "subtract")
    monkeypatch.setenv(cuba_numba.THREADS_ENV, "0")
    assert cuba_numba.set_threads() >= 1
    compare(cuba_loihi(x, p), cuba_fused(x, p, None, "loihi"), leaves, seed)


def test_fast_exp_matches_torch():
    """The vectorisable exp of SLAYER's surrogate in the backward kernel."""
    from numba import njit
    from snnpipe.models.kernels.cuba_numba_backward import exp_neg
    f = njit(lambda a: [exp_neg(v) for v in a])
    x = -torch.cat([torch.linspace(0, 85, 20001), 3 * torch.rand(5000)])
    y = torch.tensor(f(x.numpy()))
    assert torch.allclose(y, torch.exp(x.double()).float(), rtol=3e-7, atol=0)
