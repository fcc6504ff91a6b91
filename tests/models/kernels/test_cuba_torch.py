"""The torch-op loops (snnpipe.models.kernels.cuba_torch: the time loop of elementwise ops CUDA
tensors run without triton), checked on the CPU through ``cuba_fused(impl="torch")`` against
the reference sequence functions."""
import pytest
from kernel_checks import PRECISIONS, compare, draw, draw_xylo_readout, xylo_readout_resets

from snnpipe.models.kernels.cuba_fused import cuba_fused
from snnpipe.models.neurons.cuba_xylo import cuba_xylo
from snnpipe.models.neurons.registry import PRECISIONS as NEURONS
from snnpipe.models.surrogate import FastSigmoid

CASES = [(prec, spike, reset, seed) for prec in PRECISIONS
         for spike, reset in (("binary", "zero"), ("multi", "subtract"), ("binary", "subtract"),
                              ("multi", "zero"))
         for seed in range(2)]


@pytest.mark.parametrize("precision,spike,reset,seed", CASES[::2])
def test_torch_loop_equals_reference(precision, spike, reset, seed):
    """``impl="torch"`` (the time loop of elementwise ops CUDA tensors run) on the CPU."""
    x, p, leaves = draw(seed, spike, reset)
    compare(NEURONS[precision].sequence(x, p), cuba_fused(x, p, None, precision, impl="torch"),
             leaves, seed)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_torch_loop_without_threshold_and_other_surrogate(precision):
    x, p, leaves = draw(3, threshold=False)
    compare(NEURONS[precision].sequence(x, p), cuba_fused(x, p, None, precision, impl="torch"),
             leaves, 3)
    x, p, leaves = draw(5, surrogate=FastSigmoid(7.0))
    compare(NEURONS[precision].sequence(x, p), cuba_fused(x, p, None, precision, impl="torch"),
             leaves, 5)


def test_torch_loop_xylo_readout_resets_at_state_max():
    """A saturated xylo leaky integrator, reset by STATE_MAX several times: values bit for bit
    and gradients as the reference."""
    x, p, state, leaves = draw_xylo_readout()
    ref = cuba_xylo(x, p, state)
    fused = cuba_fused(x, p, state, "xylo", impl="torch")
    assert xylo_readout_resets(p, state, fused).sum() > 40
    compare(ref, fused, leaves, 7)
