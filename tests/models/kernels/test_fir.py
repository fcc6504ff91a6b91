"""The IIR filter of the truncated exponential (snnpipe.models.kernels.fir.exp_filter),
SpikeTime's fused distance (exp_distance) and SpikeTime against its FFT formula."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from snnpipe.models import losses
from snnpipe.models.kernels import fir as kfir


def spikes(shape, rate=0.2, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < rate).to(dtype)


def time_major(x):
    """x (..., T) as a view of time-major memory (rows 1.. of a (T + 1, M) buffer, as the
    CUBA kernels return their outputs)."""
    n_t = x.shape[-1]
    buf = torch.zeros((n_t + 1,) + tuple(x.shape[:-1]), dtype=x.dtype)
    buf[1:] = x.movedim(-1, 0)
    return buf[1:].movedim(0, -1)


def direct(x, kernel):
    """float64 direct causal convolution along the last axis (numpy)."""
    x, k = np.asarray(x, np.float64), np.asarray(kernel, np.float64)
    n_t = x.shape[-1]
    y = np.zeros_like(x)
    for i in range(min(len(k), n_t)):
        y[..., i:] += k[i] * x[..., :n_t - i]
    return y


def exact_kernel(tau, length):
    return np.exp(-np.arange(length) / tau)


LAYOUTS = {"time_major": time_major, "contiguous": lambda x: x.clone(),
           "strided": lambda x: x.transpose(0, 1).contiguous().transpose(0, 1)}   # neither
CASES = [((2, 3, 50), 5.0, 100), ((2, 3, 300), 5.0, 100), ((1, 4, 300), 2.0, 100),
         ((1, 200, 130), 5.0, 100), ((3, 70), 20.0, 7), ((40,), 3.0, 10), ((2, 3, 64), 4.0, 64)]


@pytest.mark.parametrize("layout,shape,tau,length",
                         [(layout, *case) for layout in LAYOUTS for case in CASES
                          if layout != "strided" or len(case[0]) == 3])   # (N, B, T): 3 axes
def test_exp_filter_is_the_truncated_exponential_fir(layout, shape, tau, length):
    """Values against a float64 direct convolution (T shorter and longer than L), the
    gradient against the FFT filter's autograd, the result in the input's layout."""
    x0 = spikes(shape, 0.2, length)
    x = LAYOUTS[layout](x0).requires_grad_()
    assert torch.equal(x, x0)
    y = kfir.exp_filter(x, tau, length)
    ref = direct(x0.numpy(), exact_kernel(tau, length))
    scale = np.abs(ref).max()
    assert y.shape == x.shape and y.dtype == torch.float32
    assert np.abs(y.detach().numpy() - ref).max() <= 1.2e-7 * scale
    if layout == "time_major" or len(shape) == 1:
        assert kfir._is_time_major(y)
    else:
        assert y.is_contiguous() and not kfir._is_time_major(y)
    weight = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    g = torch.autograd.grad((y * weight).sum(), x)[0]
    xf = x0.clone().requires_grad_()
    g_fft = torch.autograd.grad((kfir.fir(xf, losses.exp_kernel(tau, length, 1)) * weight).sum(),
                                xf)[0]
    assert torch.allclose(g, g_fft, rtol=0, atol=1e-6 * g_fft.abs().max().item())


@pytest.mark.parametrize("layout", ["time_major", "contiguous"])
@pytest.mark.parametrize("steps,length", [(12, 5), (6, 9), (9, 9)])
def test_exp_filter_gradcheck_float64(layout, steps, length):
    x = LAYOUTS[layout](torch.randn(2, 3, steps, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda v: kfir.exp_filter(v, 2.5, length), (x,))
    y = kfir.exp_filter(x.detach(), 2.5, length).numpy()
    assert np.allclose(y, direct(x.detach().numpy(), exact_kernel(2.5, length)),
                       rtol=1e-13, atol=1e-13)


def test_exp_filter_time_major_option():
    x = spikes((2, 5, 40), 0.3, 3)
    for tm in (True, False, None):
        y = kfir.exp_filter(x, 4.0, 15, time_major=tm)
        assert kfir._is_time_major(y) == bool(tm) and (tm or y.is_contiguous())
        torch.testing.assert_close(y, kfir.fir(x, losses.exp_kernel(4.0, 15, 1)))
    y = kfir.exp_filter(time_major(x), 4.0, 15, time_major=False)
    assert y.is_contiguous()
    torch.testing.assert_close(y, kfir.fir(x, losses.exp_kernel(4.0, 15, 1)))


def test_exp_filter_rejects_bad_parameters_and_falls_back_for_other_dtypes(monkeypatch):
    with pytest.raises(ValueError):
        kfir.exp_filter(torch.zeros(2, 5), 0.0, 10)
    with pytest.raises(ValueError):
        kfir.exp_filter(torch.zeros(2, 5), 2.0, 0)
    calls = []
    monkeypatch.setattr(kfir, "fir", lambda x, kernel: calls.append((x, kernel)) or x)
    x = spikes((2, 30), 0.3, 4).half()
    assert kfir.exp_filter(x, 3.0, 10) is x
    assert calls[0][0] is x and torch.equal(calls[0][1], losses.exp_kernel(3.0, 10, 1))


def test_exp_filter_error_at_t2000_is_float32_rounding():
    """T = 2000: the IIR's rounding does not accumulate; it is below the FFT path's."""
    x = spikes((2, 50, 2000), 0.05, 5)
    for tau, length in ((5.0, 100), (200.0, 2000)):
        ref = direct(x.numpy(), exact_kernel(tau, length))
        scale = np.abs(ref).max()
        err_iir = np.abs(kfir.exp_filter(time_major(x), tau, length).numpy() - ref).max()
        err_fft = np.abs(kfir.fir(x, losses.exp_kernel(tau, length, 1)).numpy() - ref).max()
        assert err_iir <= 6e-8 * scale          # the output correctly rounded (half an ulp)
        assert err_iir <= err_fft


def old_spike_time(loss, output, desired):
    """SpikeTime's previous formula: FFT filters, flatten, mse_loss."""
    return F.mse_loss(kfir.fir(output, loss.kernel).flatten(),
                      kfir.fir(desired, loss.kernel).flatten(), reduction=loss.reduction)


@pytest.mark.parametrize("out_layout,des_layout", [("time_major", "contiguous"),
                                                   ("time_major", "time_major"),
                                                   ("contiguous", "contiguous"),
                                                   ("contiguous", "time_major"),
                                                   ("strided", "strided")])
@pytest.mark.parametrize("shape,reduction", [((1, 200, 300), "sum"), ((3, 7, 90), "mean"),
                                             ((2, 5, 40), "sum")])
def test_spike_time_equals_the_previous_formula(out_layout, des_layout, shape, reduction):
    """Order 1 (the IIR distance): values and gradients of both arguments."""
    loss = losses.SpikeTime(reduction=reduction)
    out0, des0 = spikes(shape, 0.1, 1), spikes(shape, 0.1, 2)
    out = LAYOUTS[out_layout](out0).requires_grad_()
    des = LAYOUTS[des_layout](des0).requires_grad_()
    value = loss(out, des)
    g_out, g_des = torch.autograd.grad(value, (out, des))
    o2, d2 = out0.clone().requires_grad_(), des0.clone().requires_grad_()
    ref = old_spike_time(loss, o2, d2)
    r_out, r_des = torch.autograd.grad(ref, (o2, d2))
    assert value.shape == () and value.dtype == torch.float32
    assert torch.allclose(value, ref, rtol=1e-6, atol=0)
    for g, r in ((g_out, r_out), (g_des, r_des)):
        assert torch.allclose(g, r, rtol=0, atol=1e-6 * r.abs().max().item())
    if out_layout == "time_major":
        assert kfir._is_time_major(g_out)           # the network's layout, no transpose


def test_spike_time_at_t2000_batch_8():
    loss = losses.SpikeTime()
    out0, des = spikes((8, 200, 2000), 0.05, 1), spikes((8, 200, 2000), 0.05, 2)
    out = time_major(out0).requires_grad_()
    value = loss(out, des)
    value.backward()
    o2 = out0.clone().requires_grad_()
    ref = old_spike_time(loss, o2, des)
    ref.backward()
    assert torch.allclose(value, ref, rtol=1e-6, atol=0)
    assert torch.allclose(out.grad, o2.grad, rtol=0, atol=1e-6 * o2.grad.abs().max().item())


def test_exp_distance_gradcheck_float64():
    out = time_major(torch.randn(2, 3, 11, dtype=torch.float64)).requires_grad_()
    des = torch.randn(2, 3, 11, dtype=torch.float64, requires_grad=True)
    for reduction in ("sum", "mean"):
        assert torch.autograd.gradcheck(
            lambda o, d: kfir.exp_distance(o, d, 3.0, 4, reduction), (out, des))
        ref = F.mse_loss(torch.from_numpy(direct(out.detach().numpy(), exact_kernel(3.0, 4))),
                         torch.from_numpy(direct(des.detach().numpy(), exact_kernel(3.0, 4))),
                         reduction=reduction)
        assert torch.allclose(kfir.exp_distance(out, des, 3.0, 4, reduction), ref,
                              rtol=1e-12, atol=0)


def test_spike_time_order_2_keeps_the_fft_path(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the IIR is for order 1 only")
    monkeypatch.setattr(kfir, "exp_distance", forbidden)
    monkeypatch.setattr(kfir, "exp_filter", forbidden)
    loss = losses.SpikeTime(2.0, filter_order=2)
    out = time_major(spikes((2, 6, 120), 0.1, 1)).requires_grad_()
    des = spikes((2, 6, 120), 0.1, 2)
    value = loss(out, des)
    o2 = out.detach().clone().requires_grad_()
    ref = old_spike_time(loss, o2, des)
    torch.testing.assert_close(value, ref, rtol=1e-6, atol=0)
    torch.testing.assert_close(torch.autograd.grad(value, out)[0],
                               torch.autograd.grad(ref, o2)[0])


def test_spike_time_keeps_flatten_semantics_for_other_shapes_and_reductions():
    loss = losses.SpikeTime(3.0, 20)
    out, des = spikes((1, 5, 40), 0.2, 1), spikes((5, 40), 0.2, 2)
    torch.testing.assert_close(loss(out, des), old_spike_time(loss, out, des))
    loss_none = losses.SpikeTime(3.0, 20, reduction="none")
    des = spikes((1, 5, 40), 0.2, 2)
    value = loss_none(out, des)
    assert value.shape == (200,)
    torch.testing.assert_close(value, old_spike_time(loss_none, out, des))
