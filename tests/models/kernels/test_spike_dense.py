"""Sparse projections of spike trains (snnpipe.models.kernels.spike_dense) equal the dense
matmul: values bit for bit where they apply, gradients as the matmul's."""
import pytest
import torch


def _quantised_weight(n_out, n_in, seed):
    from snnpipe.models.ste import quantize_weight_8bit
    g = torch.Generator().manual_seed(seed)
    return quantize_weight_8bit(torch.randn(n_out, n_in, generator=g)).detach().requires_grad_()


@pytest.mark.parametrize("time_major", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_spike_projection_equals_matmul(time_major, seed):
    """Values bit for bit (quantised weights, integer counts), gradients as the matmul's."""
    from snnpipe.models.kernels import spike_dense
    g = torch.Generator().manual_seed(seed)
    b, c, n, t = (int(v) for v in torch.randint(1, 40, (4,), generator=g))
    counts = (torch.rand(b, c, t, generator=g) < 0.05) * torch.randint(1, 4, (b, c, t), generator=g)
    x = counts.float()
    if time_major:      # the (T, B, C) memory the kernels and shifts produce
        x = x.permute(2, 0, 1).contiguous().permute(1, 2, 0)
    x.requires_grad_()
    w = _quantised_weight(n, c, seed)
    z = spike_dense.project(x, w)
    assert z is not None and z.shape == (b, n, t)
    x_ref, w_ref = x.detach().clone().requires_grad_(), w.detach().clone().requires_grad_()
    z_ref = torch.matmul(w_ref, x_ref)
    assert torch.equal(z, z_ref)
    gz = torch.randn(b, n, t, generator=g)
    (z * gz).sum().backward()
    (z_ref * gz).sum().backward()
    assert torch.allclose(w.grad, w_ref.grad, rtol=1e-5, atol=1e-5)
    assert torch.allclose(x.grad, x_ref.grad, rtol=1e-5, atol=1e-5)


def test_spike_projection_declines():
    """Non-integer inputs, weights off the 1/64 grid, dense inputs: None (dense matmul)."""
    from snnpipe.models.kernels import spike_dense
    x = (torch.rand(2, 10, 50) < 0.05).float()
    w = _quantised_weight(4, 10, 0)
    assert spike_dense.project(x, w) is not None
    assert spike_dense.project(x * 0.5, w) is None
    assert spike_dense.project(x, w + 1e-3) is None
    assert spike_dense.project(torch.ones(2, 10, 50), w) is None
    assert spike_dense.project(x.double(), w.double()) is None
