"""The FFT filter (snnpipe.models.kernels.fft_fir.fir, any kernel) against a direct causal
convolution: values and input gradients."""
import pytest
import torch
import torch.nn.functional as F


@pytest.mark.parametrize("shape,length", [((2, 3, 50), 10), ((1, 4, 300), 100), ((5, 7), 40)])
def test_fft_fir_equals_a_direct_convolution(shape, length):
    """fir (FFT, any kernel; here the order-2 one) against a direct causal conv1d: values and
    input gradients."""
    from snnpipe.models.kernels.fft_fir import exp_kernel, fir as fft_fir

    def conv(x, kernel):
        steps = x.shape[-1]
        y = F.conv1d(F.pad(x.reshape(-1, 1, steps), (kernel.numel() - 1, 0)),
                     kernel.flip(0).reshape(1, 1, -1))
        return y.reshape(x.shape)

    g = torch.Generator().manual_seed(length)
    x = (torch.rand(shape, generator=g) < 0.2).float().requires_grad_()
    kernel = exp_kernel(5.0, length, 2)
    weight = torch.randn(shape, generator=g)
    y_ref, y = conv(x, kernel), fft_fir(x, kernel)
    assert torch.allclose(y, y_ref, atol=1e-5 * y_ref.abs().max().item())
    g_ref = torch.autograd.grad((y_ref * weight).sum(), x)[0]
    g_fft = torch.autograd.grad((y * weight).sum(), x)[0]
    assert torch.allclose(g_fft, g_ref, atol=1e-5 * g_ref.abs().max().item())
