"""The fused kernels inside the blocks and networks: a whole training step gives the same
outputs and gradients with the reference loop and with the kernels; the one-step output shift
keeps the kernels' time-major layout (a view of their spike buffer)."""
import pytest
import torch
from kernel_checks import CROSSCHECK, draw


from snnpipe.models import kernels
from snnpipe.models.kernels.cuba_fused import cuba_fused
from snnpipe.models.networks import oxford


def test_oxford_blocks_equal_with_either_kernel(monkeypatch):
    """A whole training step of the Oxford net: same spikes, same weight and decay gradients."""
    torch.manual_seed(0)
    net = oxford(20, 24, 10)
    x = (torch.rand(2, 20, 80) < 0.2).float()
    results = []
    for kernel in ("reference", "fused"):
        monkeypatch.setenv(kernels.ENV, kernel)
        net.zero_grad()
        out = net(x)
        (out * torch.linspace(-1, 1, 80)).sum().backward()
        grads = [q.grad.clone() for q in net.parameters() if q.requires_grad]
        results.append((out.detach(), grads))
    (out_ref, g_ref), (out_fused, g_fused) = results
    assert torch.equal(out_ref, out_fused) and out_ref.sum() > 0
    for a, b in zip(g_ref, g_fused):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6 * (a.abs().max().item() + 1e-6))


def test_shift_keeps_layout_and_equals_cat():
    from snnpipe.models.block.base import shift
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 40, 4, generator=g).permute(1, 2, 0).requires_grad_()   # (B, C, T) view
    y = shift(x, 2)
    assert y.stride() == x.stride()
    ref = torch.cat([torch.zeros(x.shape[0], x.shape[1], 2), x[..., :-2]], -1)
    assert torch.equal(y, ref)
    gy = torch.randn(y.shape, generator=g)
    (gx,) = torch.autograd.grad((y * gy).sum(), x)
    (gx_ref,) = torch.autograd.grad((ref * gy).sum(), x)
    assert torch.equal(gx, gx_ref)


def _assert_same_step_with_either_kernel(net, x, monkeypatch):
    """One forward and backward with the reference loop and with the fused kernels: the same
    outputs, gradients equal up to float32 summation order."""
    results = []
    for kernel in ("reference", "fused"):
        monkeypatch.setenv(kernels.ENV, kernel)
        net.zero_grad()
        out = net(x)
        (out * torch.linspace(-1, 1, x.shape[-1])).sum().backward()
        results.append((out.detach(), [q.grad.clone() for q in net.parameters()
                                       if q.grad is not None]))
    (out_ref, g_ref), (out_fused, g_fused) = results
    assert torch.equal(out_ref, out_fused) and out_ref.abs().sum() > 0
    assert len(g_ref) == len(g_fused) > 0
    for a, b in zip(g_ref, g_fused):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5 * (a.abs().max().item() + 1e-6))


def test_xylo_synnet_blocks_equal_with_either_kernel(monkeypatch):
    """The xylo precision in a network (quantised weights, decays as shifts, multi-spike
    hidden layers; trainable decays and thresholds)."""
    from snnpipe.models.networks import SynNet
    torch.manual_seed(2)
    net = SynNet(6, 3, size_hidden_layers=(10, 10), time_constants_per_layer=(2, 4),
                 threshold=0.2, train_time_constants=True, train_threshold=True,
                 precision="xylo")
    _assert_same_step_with_either_kernel(net, (torch.rand(3, 6, 50) < 0.3).float(), monkeypatch)


def test_wavesense_blocks_equal_with_either_kernel(monkeypatch):
    """Float precision, multi-spikes, subtractive reset, two synaptic currents (MultiDense)."""
    from snnpipe.models.networks import WaveSenseNet
    torch.manual_seed(1)
    net = WaveSenseNet(dilations=(2, 4), n_classes=2, n_channels_in=6, n_channels_res=8,
                       n_channels_skip=8, n_hidden=8, threshold=0.3)
    _assert_same_step_with_either_kernel(net, (torch.rand(3, 6, 60) < 0.3).float(), monkeypatch)


@pytest.mark.parametrize("precision", ["loihi", pytest.param("float", marks=CROSSCHECK)])
def test_shift_of_kernel_spikes_is_a_view(precision):
    """The fused kernel's spikes sit after a zero row of their buffer: the one-step output
    delay is a view of it (no copy), with the values and gradient of the copying shift.
    (loihi in the suite: the Oxford test's kernel variants; float under crosscheck.)"""
    from snnpipe.models.block.base import shift
    x, p, _ = draw(2)
    s = cuba_fused(x, p, None, precision)[0]
    y = shift(s, 1)
    assert y.untyped_storage().data_ptr() == s.untyped_storage().data_ptr()
    ref = torch.cat([torch.zeros_like(s[..., :1]), s[..., :-1]], -1)
    assert torch.equal(y, ref)
    gy = torch.randn(y.shape, generator=torch.Generator().manual_seed(0))
    (gx,) = torch.autograd.grad((y * gy).sum(), x, retain_graph=True)
    (gx_ref,) = torch.autograd.grad((ref * gy).sum(), x)
    assert torch.allclose(gx, gx_ref, rtol=1e-6, atol=1e-7)
    # a tensor whose storage merely has room before it is copied, not viewed
    big = torch.zeros(10, 3, 4)
    z = big[2:].permute(1, 2, 0)
    assert shift(z, 1).untyped_storage().data_ptr() != big.untyped_storage().data_ptr()
