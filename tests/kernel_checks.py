"""Checks shared by the fused-kernel tests: a fused sequence equals the reference sequence
function in values (bit for bit) and in gradients (up to float32 summation order)."""
import torch


def loss(out, seed):
    """A random linear functional of every output (spikes, u, v, final state)."""
    g = torch.Generator().manual_seed(seed)
    s, u, v, final = out
    terms = [u, v, final.u, final.v] + ([] if s is None else [s])
    return sum((t * torch.randn(t.shape, generator=g)).sum() for t in terms)


def compare(ref, fused, leaves, seed):
    for name, a, b in zip(("s", "u", "v"), ref[:3], fused[:3]):
        assert (a is None) == (b is None), name
        if a is not None:
            assert torch.equal(a, b), f"{name} differs at {torch.nonzero(a != b)[:5].tolist()}"
    assert torch.equal(ref[3].u, fused[3].u) and torch.equal(ref[3].v, fused[3].v)
    g_ref = torch.autograd.grad(loss(ref, seed), leaves, allow_unused=True)
    g_fused = torch.autograd.grad(loss(fused, seed), leaves, allow_unused=True)
    for i, (a, b) in enumerate(zip(g_ref, g_fused)):
        scale = a.abs().max().item() + 1e-6
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5 * scale), \
            f"gradient of leaf {i}: max diff {(a - b).abs().max().item()} (scale {scale})"
