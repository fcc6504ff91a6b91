"""Building parts of the blocks: synapses, delays, SLAYER neuron_params, graph attributes.

Tensors are (batch, channels, time) or, for convolutions, (batch, C, H, W, time).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from snnpipe.hwmap.targets import loihi
from snnpipe.models import kernels
from snnpipe.models.neurons.cuba_loihi import loihi_ints
from snnpipe.models.populations.cuba import Cuba
from snnpipe.hwmap.targets.xylo import UNIT as XYLO_UNIT
from snnpipe.models.neurons.cuba_xylo import quantize_weight_xylo, xylo_ints
from snnpipe.models.ste import quantize_weight_8bit
from snnpipe.pipeline.ir import graph
from snnpipe.pipeline.ir.errors import GraphError, SnnpipeError

SLAYER_KEYS = {"threshold", "current_decay", "voltage_decay", "tau_grad", "scale_grad",
               "requires_grad", "persistent_state", "graded_spike", "dropout", "scale",
               "shared_param"}
OUR_KEYS = {"n_syn", "bias", "reset", "spike", "refractory", "precision", "train_threshold",
            "train_bias", "surrogate"}


def make_neuron(neuron_params: dict, precision: str = "loihi", spiking: bool = True):
    """A :class:`Cuba` neuron and its spike dropout from a SLAYER-style ``neuron_params`` dict.

    SLAYER keys: threshold, current_decay, voltage_decay, tau_grad, scale_grad, requires_grad,
    persistent_state, graded_spike, dropout (a module applied to the spikes), scale (must be
    64), shared_param (must be True: give per-neuron arrays instead). Ours: n_syn, bias, reset,
    spike, refractory, precision, train_threshold, train_bias, surrogate. The dict is not
    modified. Returns ``(neuron, dropout or None)``.
    """
    params = dict(neuron_params)
    unknown = set(params) - SLAYER_KEYS - OUR_KEYS
    if unknown:
        raise SnnpipeError("unknown neuron parameter", field="neuron_params",
                           expected=sorted(SLAYER_KEYS | OUR_KEYS), found=sorted(unknown))
    if params.pop("scale", 1 << 6) != 1 << 6 or params.pop("shared_param", True) is not True:
        raise SnnpipeError("only SLAYER's default scale (64) and shared_param=True are supported; "
                           "give per-neuron arrays for per-neuron parameters", field="neuron_params")
    dropout = params.pop("dropout", None)
    if params.pop("graded_spike", False):
        params["spike"] = "graded"
    params.setdefault("precision", precision)
    if not spiking:
        params["threshold"] = None
    return Cuba(**params), dropout


class _Shift(torch.autograd.Function):
    """Delay by ``steps`` with zeros first, keeping the memory layout of the input (a (B, C, T)
    view of time-major memory stays time-major, so the next fused kernel or matmul reads it
    without a copy); the gradient is shifted back into the input's layout."""

    @staticmethod
    def forward(ctx, x, steps, first):
        out = torch.empty_like(x)          # same strides as x where x is dense
        out[..., :steps] = first
        out[..., steps:] = x[..., :-steps]
        ctx.steps, ctx.shape, ctx.strides = steps, out.shape, out.stride()
        return out

    @staticmethod
    def backward(ctx, grad):
        steps = ctx.steps
        g = torch.empty_strided(ctx.shape, ctx.strides, dtype=grad.dtype, device=grad.device)
        g[..., :-steps] = grad[..., steps:]
        g[..., -steps:] = 0
        return g, None, None


class _ShiftView(_Shift):
    """:class:`_Shift` whose forward is a view: x's buffer holds the ``steps`` leading zero
    rows already (see :func:`_lead_rows`); the backward is _Shift's."""

    @staticmethod
    def forward(ctx, x, steps, first):
        ctx.steps, ctx.shape, ctx.strides = steps, x.shape, x.stride()
        return x.as_strided(x.shape, x.stride(), x.storage_offset() - steps * x.stride(-1))


def _lead_rows(x: torch.Tensor, steps: int, first: float) -> bool:
    """Whether x (..., T) is a time-major view at rows ``steps..`` of a buffer of exactly
    T + steps rows whose first ``steps`` rows are ``first`` (zero): the fused CUBA kernel's
    spike buffers (:func:`snnpipe.models.kernels.cuba_torch.spike_buffer`)."""
    if first != 0.0 or x.dim() < 2:
        return False
    row = x.stride(-1)
    head = x[..., 0]
    if row != head.numel() or not head.is_contiguous() or x.storage_offset() != steps * row \
            or x.untyped_storage().nbytes() != (x.shape[-1] + steps) * row * x.element_size():
        return False
    lead = x.detach().as_strided(x.shape[:-1] + (steps,), x.stride(), 0)
    return bool((lead == 0).all())


def shift(x: torch.Tensor, steps: int = 1, first: torch.Tensor | float = 0.0) -> torch.Tensor:
    """Delay along the last (time) axis by ``steps``; the first step is filled with ``first``.

    The result keeps x's memory layout; where x's buffer already holds the leading zeros (the
    fused kernel's spikes) it is a view of that buffer, not a copy."""
    if steps == 0:
        return x
    if not torch.is_tensor(first) and 0 < steps < x.shape[-1]:
        if _lead_rows(x, steps, float(first)):
            return _ShiftView.apply(x, steps, float(first))
        return _Shift.apply(x, steps, float(first))
    head = torch.zeros_like(x[..., :steps]) + (first[..., None] if torch.is_tensor(first) else first)
    return torch.cat([head, x[..., :-steps]], -1)


def _shift_channels(x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Shift channel c of x (batch, C, ..., T) by the integer ``d[c]`` steps (either sign)."""
    steps = x.shape[-1]
    d = d.reshape(-1, *([1] * (x.dim() - 2)))
    t = torch.arange(steps, device=x.device)
    src = t - d
    out = torch.gather(x, -1, src.clamp(0, steps - 1).expand(*x.shape))
    return out * ((src >= 0) & (src < steps)).to(x.dtype)


class _AxonDelay(torch.autograd.Function):
    """Integer delay forward; SLAYER's gradients backward: the input gradient shifted back, and
    ``dL/d delay = sum grad * (out[t-1] - out[t])`` (minus the temporal derivative)."""

    @staticmethod
    def forward(ctx, x, delay):
        d = delay.detach().floor().clamp(0, loihi.MAX_DELAY).long()
        out = _shift_channels(x, d)
        ctx.save_for_backward(out, d)
        return out

    @staticmethod
    def backward(ctx, grad):
        out, d = ctx.saved_tensors
        diff = shift(out, 1) - out
        dims = [0] + list(range(2, grad.dim()))
        return _shift_channels(grad, -d), (grad * diff).sum(dims)


def axon_delay(x: torch.Tensor, delay: torch.Tensor) -> torch.Tensor:
    """Delay channel c of x (batch, C, ..., T) by ``floor(delay[c])`` steps (0..62).

    Trainable as SLAYER's axonal delay (gradient through the temporal derivative).
    """
    return _AxonDelay.apply(x, delay)


def _init_weight(w: torch.Tensor, fan_in: int, weight_scale: float) -> torch.Tensor:
    bound = 1.0 / math.sqrt(fan_in)      # torch's Conv default (kaiming_uniform, a=sqrt(5))
    with torch.no_grad():
        w.uniform_(-bound, bound).mul_(weight_scale)
    return w


class Synapse(torch.nn.Module):
    """Dense or convolutional weights with an optional pre-hook (the quantiser).

    ``weight`` is (out, in) for dense, (out, in/groups, kh, kw) for conv, in float units.
    ``pre_hook_fx`` default: SLAYER's 8-bit quantiser in the loihi precision, int8 in 1/64
    units in the xylo precision, none in float.
    """

    def __init__(self, weight_shape, *, conv: dict | None = None, weight_scale: float = 1.0,
                 weight_norm: bool = False, pre_hook_fx=None, precision: str = "loihi"):
        super().__init__()
        self.conv = conv
        fan_in = int(np.prod(weight_shape[1:]))
        self.weight = torch.nn.Parameter(_init_weight(torch.empty(weight_shape), fan_in,
                                                      weight_scale))
        if pre_hook_fx is None and precision in ("loihi", "xylo"):
            pre_hook_fx = quantize_weight_8bit if precision == "loihi" else quantize_weight_xylo
        self.pre_hook_fx = pre_hook_fx
        if weight_norm:
            torch.nn.utils.parametrizations.weight_norm(self, "weight", dim=0)

    def effective_weight(self) -> torch.Tensor:
        """The weight the forward pass uses (after weight norm and pre-hook), float units."""
        w = self.weight
        return w if self.pre_hook_fx is None else self.pre_hook_fx(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, in, T) or (batch, C, H, W, T) -> weighted input, same layout."""
        w = self.effective_weight()
        if self.conv is None:     # product in (T, batch, out) memory, a (batch, out, T) view
            x = x.reshape(x.shape[0], -1, x.shape[-1])
            if self.pre_hook_fx is quantize_weight_8bit:
                z = kernels.project(x, w)   # spikes times 8-bit weights: sparse where exact
                if z is not None:
                    return z
            return torch.matmul(x.permute(2, 0, 1), w.t()).permute(1, 2, 0)
        c = self.conv
        return F.conv3d(x, w.unsqueeze(-1), None, (*c["stride"], 1), (*c["padding"], 0),
                        (*c["dilation"], 1), c["groups"])


def neuron_attrs(neuron: Cuba, shape) -> dict:
    """Graph attributes of a population (snnpipe.pipeline.ir.graph.add_neuron kwargs), float64.

    In the integer precisions the effective (quantised) values are written, so the graph
    computes what the block computes: loihi ``iDecay/4096``, ``vThMant/64``, bias mantissa / 64;
    xylo ``2^-dash``, threshold and bias in 1/1024.
    """
    with torch.no_grad():
        p = neuron.params(shape)
        if neuron.precision == "loihi":
            q = loihi_ints(p)
            cd, vd = q.i_decay / loihi.DECAY_UNIT, q.v_decay / loihi.DECAY_UNIT
            th = None if q.vth_mant is None else q.vth_mant / loihi.WEIGHT_UNIT
            bias = q.bias / loihi.DECAY_UNIT
        elif neuron.precision == "xylo":
            q = xylo_ints(p)
            cd, vd, bias = q.syn_decay, q.mem_decay, q.bias / XYLO_UNIT
            th = None if q.theta is None else q.theta / XYLO_UNIT
        else:
            cd, vd, th, bias = p.current_decay, p.voltage_decay, p.threshold, p.bias

    def arr(t):
        a = t.detach().double().cpu().numpy()
        return a if a.size > 1 else a.reshape(())

    cd = cd.detach().double().cpu().numpy()
    cd = cd[:, 0] if cd.shape[1] == 1 else cd
    attrs = dict(model="cuba" if th is not None else "li", n_syn=neuron.n_syn, current_decay=cd,
                 voltage_decay=arr(vd), bias=arr(bias), reset=neuron.reset,
                 spike=neuron.spike, refractory=neuron.refractory)
    if th is not None:
        attrs["threshold"] = arr(th)
    return attrs


def weight_array(synapse: Synapse) -> np.ndarray:
    """The effective weight as a float64 numpy array."""
    with torch.no_grad():
        return synapse.effective_weight().double().cpu().numpy()


def input_transform(x: torch.Tensor, pre_hook_fx, weight, bias) -> torch.Tensor:
    """slayer's Input block transform of x (batch, channels..., time): ``q(x) * q(weight) +
    q(bias)`` with ``q = pre_hook_fx``, each of weight and bias optional (None)."""
    z = pre_hook_fx(x)
    if weight is not None:
        z = z * pre_hook_fx(weight)
    if bias is not None:
        z = z + pre_hook_fx(bias)
    return z


def conv_to_graph(g, src, name: str, synapse: Synapse, delay, add_node) -> str:
    """Add a conv block's population (``add_node(g, name, shape)``) and its conv in-edge from
    ``src`` to Graph ``g``; ``delay``: the source's axonal delay, steps (one value: a conv edge
    carries one delay). Returns ``name``."""
    if np.ndim(delay) and np.unique(delay).size > 1:
        raise GraphError("per-neuron delays into a convolution cannot be expressed",
                         where=name, field="delay", expected="one delay", found="several")
    c, w = synapse.conv, weight_array(synapse)
    shape = graph.conv_output_shape(g.nodes[src]["shape"], w.shape, c["stride"],
                                    c["padding"], c["dilation"])
    add_node(g, name, shape)
    graph.add_conv(g, src, name, w, delay=int(np.max(delay)) if np.ndim(delay) else delay, **c)
    return name


def edge_delay(delay, n_out: int):
    """The delay of a Dense in-edge of ``n_out`` neurons from a source's axonal delay (steps,
    a scalar or one per source neuron): a scalar, or (n_out, N_src)."""
    d = np.asarray(delay, dtype=np.int64)
    return d if d.ndim == 0 else np.broadcast_to(d[None, :], (n_out, d.size)).copy()
