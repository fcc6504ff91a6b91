"""Chains of NIR projection nodes between two populations -> one edge of our Graph.

Between two populations a NIR graph may hold any chain of linear maps: Flatten, Linear,
Affine, Scale, Conv1d, Conv2d, SumPool2d, AvgPool2d, Delay (and the pass-through :class:`Wire`). Our Graph has
one projection per edge (dense, conv or identity), so a chain is composed:

* ``[Flatten*, Linear | Affine, Scale*]``           -> dense (N_dst, N_src);
* ``[Scale]`` uniform or per channel                -> identity;
* ``[Conv2d]``                                      -> conv (stride, padding, dilation, groups);
* ``[SumPool2d | AvgPool2d]``                       -> conv of a constant depthwise kernel;
* ``[SumPool2d | AvgPool2d, Conv2d]``               -> one conv with the kernels composed;
* anything else (Conv1d, conv -> pool, ...)        -> the dense matrix of the whole chain, up
  to :data:`MAX_DENSE` entries (else GraphError naming the chain).

Every composition is checked against the chain itself on a random probe before it is used.
Biases (Affine, Conv) are left out of the edge: the importer adds what the projections deliver
from all-zero input as a constant drive of the target. Delays add up. Shapes exclude the batch.
"""
from __future__ import annotations

from dataclasses import dataclass

import nir
import numpy as np
import torch
import torch.nn.functional as F

from snnpipe.pipeline.ir.errors import GraphError



class Wire:
    """A pass-through: the Input or Output node of a nested NIR graph, once inlined."""

    metadata: dict = {}


PROJECTIONS = (nir.Linear, nir.Affine, nir.Scale, nir.Flatten, nir.Conv1d, nir.Conv2d,
               nir.SumPool2d, nir.AvgPool2d, nir.Delay, Wire)
MAX_DENSE = 1 << 22           # entries of a composed dense matrix (32 MiB in float64)


@dataclass
class Edge:
    """One composed projection: ``op`` with ``attrs`` (weight and conv geometry, as
    :mod:`snnpipe.pipeline.ir.graph` takes them), the shape it delivers and its delay in
    whole steps."""

    op: str
    attrs: dict
    out_shape: tuple
    delay: int


def as_array(a) -> np.ndarray:
    """A float64 array of a NIR field (numpy, or a torch tensor that may require grad)."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def _t(a) -> torch.Tensor:
    return torch.as_tensor(as_array(a))


def _ints(a, n: int) -> tuple:
    a = np.asarray(a).reshape(-1)
    return tuple(int(v) for v in (np.repeat(a, n) if a.size == 1 else a))


def _padding(node, n: int):
    p = node.padding
    if isinstance(p, (str, bytes)):
        p = p.decode() if isinstance(p, bytes) else p
        if p not in ("same", "valid"):
            raise GraphError("unknown padding", where=None, field="padding",
                             expected="same | valid | ints", found=p)
        return p
    return _ints(p, n)


def apply(node, x: torch.Tensor, bias: bool = True) -> torch.Tensor:
    """``node`` applied to x (batch, *shape) in float64; Delay and Wire pass x on."""
    if isinstance(node, (nir.Delay, Wire)):
        return x
    if isinstance(node, nir.Flatten):
        nd = x.dim() - 1
        start, end = (int(d) % nd if nd else 0 for d in (node.start_dim, node.end_dim))
        return torch.flatten(x, start + 1, end + 1)
    if isinstance(node, (nir.Linear, nir.Affine)):
        y = x.reshape(x.shape[0], -1) @ _t(node.weight).T
        return y + _t(node.bias) if bias and isinstance(node, nir.Affine) else y
    if isinstance(node, nir.Scale):
        return x * _t(node.scale)
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        nd = 1 if isinstance(node, nir.Conv1d) else 2
        conv = F.conv1d if nd == 1 else F.conv2d
        b = _t(node.bias) if bias and node.bias is not None else None
        return conv(x, _t(node.weight), b, _ints(node.stride, nd), _padding(node, nd),
                    _ints(node.dilation, nd), int(node.groups))
    k, s, p = (_ints(getattr(node, a), 2) for a in ("kernel_size", "stride", "padding"))
    y = F.avg_pool2d(x, k, s, p, count_include_pad=True)
    return y * (k[0] * k[1]) if isinstance(node, nir.SumPool2d) else y


def run(chain: list, x: torch.Tensor, bias: bool = True) -> torch.Tensor:
    """The chain [(name, node)] applied in order."""
    for name, node in chain:
        try:
            x = apply(node, x, bias)
        except TypeError as e:                     # a parameter of the wrong kind or size
            raise GraphError("a projection's parameters are malformed", where=name,
                             field="parameters", expected="NIR's types for the node",
                             found=str(e).splitlines()[0][:120]) from None
        except (RuntimeError, ValueError, IndexError) as e:
            raise GraphError("a projection does not fit its input", where=name, field="shape",
                             expected=f"an input of shape {tuple(x.shape[1:])}",
                             found=str(e).splitlines()[0][:120]) from None
        except GraphError as e:
            raise GraphError(e.message, where=name, field=e.field, expected=e.expected,
                             found=e.found) from None
    return x


def _pool_kernel(node, channels: int) -> tuple[np.ndarray, dict]:
    k, s, p = (_ints(getattr(node, a), 2) for a in ("kernel_size", "stride", "padding"))
    value = 1.0 if isinstance(node, nir.SumPool2d) else 1.0 / (k[0] * k[1])
    w = np.full((channels, 1, k[0], k[1]), value)
    return w, dict(stride=s, padding=p, dilation=(1, 1), groups=channels)


def _conv(node) -> tuple[np.ndarray, dict] | None:
    p = _padding(node, 2)
    w = as_array(node.weight)
    if p == "valid":
        p = (0, 0)
    if isinstance(p, str):
        d = _ints(node.dilation, 2)
        if any((d[i] * (w.shape[2 + i] - 1)) % 2 for i in range(2)):
            return None
        p = tuple(d[i] * (w.shape[2 + i] - 1) // 2 for i in range(2))
    return w, dict(stride=_ints(node.stride, 2), padding=p, dilation=_ints(node.dilation, 2),
                   groups=int(node.groups))


def _compose(pool, conv) -> tuple[np.ndarray, dict] | None:
    """One conv equal to a depthwise pool (kernel k, stride s, no padding) then a conv."""
    (wp, gp), (wc, gc) = pool, conv
    if gp["padding"] != (0, 0):
        return None
    k, s, d = wp.shape[2:], gp["stride"], gc["dilation"]
    kh, kw = wc.shape[2:]
    size = [s[i] * d[i] * ((kh, kw)[i] - 1) + k[i] for i in range(2)]
    w = np.zeros(wc.shape[:2] + tuple(size))
    for a in range(kh):
        for b in range(kw):
            ra, rb = s[0] * d[0] * a, s[1] * d[1] * b
            w[:, :, ra:ra + k[0], rb:rb + k[1]] += wc[:, :, a:a + 1, b:b + 1] * wp[0, 0, 0, 0]
    return w, dict(stride=(s[0] * gc["stride"][0], s[1] * gc["stride"][1]),
                   padding=(s[0] * gc["padding"][0], s[1] * gc["padding"][1]), dilation=(1, 1),
                   groups=gc["groups"])


def _candidate(core: list, in_shape: tuple):
    """A structured (op, attrs) for the chain ``core`` (no Delay / Wire), or None."""
    types = [type(n) for _, n in core]
    while types and types[0] is nir.Flatten:
        types, core = types[1:], core[1:]
    if not core:
        return "identity", dict(weight=np.array(1.0))
    first = core[0][1]
    if types == [nir.Scale]:
        s = np.broadcast_to(as_array(first.scale), in_shape)
        per = s.reshape(in_shape[0], -1)
        if np.all(per == per[:, :1]):
            w = per[:, 0]
            return "identity", dict(weight=np.array(w[0]) if np.all(w == w[0]) else w.copy())
        return None
    if len(in_shape) != 3 and types != [nir.Linear] and types != [nir.Affine]:
        return None
    if types in ([nir.Linear], [nir.Affine]):
        return "dense", dict(weight=as_array(first.weight))
    if types == [nir.Conv2d]:
        conv = _conv(first)
        return None if conv is None else ("conv", dict(weight=conv[0], **conv[1]))
    pools = (nir.SumPool2d, nir.AvgPool2d)
    if len(types) == 1 and types[0] in pools:
        w, geo = _pool_kernel(first, in_shape[0])
        return "conv", dict(weight=w, **geo)
    if len(types) == 2 and types[0] in pools and types[1] is nir.Conv2d:
        conv = _conv(core[1][1])
        both = None if conv is None else _compose(_pool_kernel(first, in_shape[0]), conv)
        return None if both is None else ("conv", dict(weight=both[0], **both[1]))
    return None


def _structured(op: str, attrs: dict, x: torch.Tensor) -> torch.Tensor:
    w = _t(attrs["weight"])
    if op == "dense":
        return x.reshape(x.shape[0], -1) @ w.T
    if op == "identity":
        return x * (w if w.ndim == 0 else w.reshape((-1,) + (1,) * (x.dim() - 2)))
    return F.conv2d(x, w, None, attrs["stride"], attrs["padding"], attrs["dilation"],
                    attrs["groups"])


def delay_steps(name: str, node, dt: float) -> int:
    """A NIR Delay (seconds, one value for the whole projection) in whole steps of ``dt``."""
    d = as_array(node.delay).reshape(-1) / dt
    steps = int(np.rint(d[0])) if d.size and np.isfinite(d[0]) else -1
    if steps < 0 or np.any(np.abs(d - steps) > 1e-9 * max(1, steps)):
        raise GraphError("a Delay must be one whole number of steps", where=name,
                         field="delay", expected=f"a uniform multiple of dt = {dt} s",
                         found=node.delay)
    return steps


def compose(chain: list, in_shape: tuple, dt: float) -> Edge:
    """Our edge for the projection ``chain`` [(name, node)] from a population of ``in_shape``
    (bias excluded: see :func:`run`), with the chain's Delays in steps of ``dt`` seconds.

    Raises:
        GraphError: a node that does not fit its input, a Delay that is not whole steps, or a
            chain that has no structured form and is too large to hold as a dense matrix.
    """
    delay = sum(delay_steps(n, node, dt) for n, node in chain if isinstance(node, nir.Delay))
    core = [(n, node) for n, node in chain if not isinstance(node, (nir.Delay, Wire))]
    n_in = int(np.prod(in_shape))
    probe = torch.rand((3,) + tuple(in_shape), generator=torch.Generator().manual_seed(0),
                       dtype=torch.float64)
    want = run(core, probe, bias=False)
    out_shape = tuple(int(s) for s in want.shape[1:])
    found = _candidate(core, in_shape)
    if found is not None:
        op, attrs = found
        got = _structured(op, attrs, probe)
        if got.shape == want.shape and torch.allclose(got, want, rtol=1e-9, atol=1e-12):
            return Edge(op, attrs, out_shape, delay)
    n_out = int(np.prod(out_shape))
    if n_in * n_out > MAX_DENSE:
        raise GraphError("this chain of projections has no single-edge form and is too large "
                         "for a dense matrix", where=" -> ".join(n for n, _ in core) or None,
                         field="type", expected=f"<= {MAX_DENSE} weights",
                         found=f"{n_out} x {n_in}")
    eye = torch.eye(n_in, dtype=torch.float64).reshape((n_in,) + tuple(in_shape))
    w = run(core, eye, bias=False).reshape(n_in, n_out).T.numpy().copy()
    return Edge("dense", dict(weight=w), out_shape, delay)
