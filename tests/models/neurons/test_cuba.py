"""The CUBA neuron functions: hand-computed traces per precision, Loihi corner cases, gradients."""
import pytest
import torch

from snnpipe.hwmap.targets import loihi
from snnpipe.models.neurons.cuba_float import cuba_float
from snnpipe.models.neurons.cuba_loihi import cuba_loihi, cuba_step_loihi
from snnpipe.models.neurons.state import CubaParams, initial_state
from snnpipe.models.populations.cuba import Cuba
from snnpipe.models.populations.li import Li, li_sequence
from snnpipe.models.surrogate import FastSigmoid, Sigmoid, SlayerExp, make, spike
from snnpipe.pipeline.ir.errors import SnnpipeError


def params(cd=0.5, vd=0.25, th=1.0, bias=0.0, **kw):
    cd = torch.as_tensor(cd, dtype=torch.float32).reshape(-1, 1)
    return CubaParams(cd, torch.tensor(vd), None if th is None else torch.tensor(th),
                      torch.tensor(bias), **kw)


def impulse(steps=5, value=1.0, n_syn=1):
    x = torch.zeros(1, n_syn, 1, steps)
    x[..., 0] = value
    return x


def test_loihi_impulse_response_by_hand():
    # u: 4096, 2048, 1024, ...; v = trunc(v * 3/4) + u; spikes when v > 64 * 64 (strict)
    s, u, v, _ = cuba_loihi(impulse(), params())
    assert (u[0, 0, 0] * 4096).tolist() == [4096, 2048, 1024, 512, 256]
    assert (v[0, 0] * 4096).tolist() == [4096, 5120, 1024, 1280, 1216]   # v recorded pre-reset
    assert s[0, 0].tolist() == [0, 1, 0, 0, 0]        # 4096 is not > 4096; 5120 is


def test_float_impulse_response_by_hand():
    s, u, v, _ = cuba_float(impulse(), params())
    assert u[0, 0, 0].tolist() == [1.0, 0.5, 0.25, 0.125, 0.0625]
    assert v[0, 0].tolist() == [1.0, 1.25, 0.25, 0.3125, 0.296875]
    assert s[0, 0].tolist() == [0, 1, 0, 0, 0]


def test_loihi_decay_truncates_toward_zero():
    # u = trunc(4096 * -1/4096) = -1, then trunc0(-1 * 2048 / 4096) = 0 (a floor would give -1)
    _, u, _, _ = cuba_loihi(impulse(3, -1 / 4096), params(th=10.0))
    assert (u[0, 0, 0] * 4096).tolist() == [-1, 0, 0]


def test_loihi_current_wraps_and_voltage_saturates_at_24_bits():
    x = torch.full((1, 1, 1, 3), 2048.0)              # 2048 * 4096 = 2^23 per step
    _, u, v, _ = cuba_loihi(x, params(cd=0.0, vd=0.0, th=4000.0))
    assert (u[0, 0, 0] * 4096).long().tolist() == [2 ** 23, 0, 2 ** 23]   # 2^24 wraps to 0
    assert (v[0, 0] * 4096).long().tolist() == [2 ** 23 - 1] * 3          # saturated


def test_loihi_step_uses_the_target_rules():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(-300, 300, (4, 1, 6), generator=g) / 64
    state = initial_state(4, 1, 6)
    state = state._replace(u=torch.randint(-9999, 9999, (4, 1, 6), generator=g) / 4096,
                           v=torch.randint(-9999, 9999, (4, 6), generator=g) / 4096)
    s, u, v, new = cuba_step_loihi(x, state, params(cd=0.3, vd=0.1, th=1.5))
    ui = loihi.current_step((state.u * 4096).long(), (x * 64).long(), round(0.3 * 4096))
    vi = loihi.voltage_step((state.v * 4096).long(), ui[:, 0], round(0.1 * 4096), 0)
    si, vr = loihi.spike_and_reset(vi, loihi.threshold_value(int(1.5 * 64)))
    assert torch.equal((u * 4096).long(), ui) and torch.equal((v * 4096).long(), vi)
    assert torch.equal(s.bool(), si) and torch.equal((new.v * 4096).long(), vr)


def test_two_synaptic_currents_decay_separately_and_sum_into_v():
    x = impulse(4, n_syn=2)
    _, u, v, _ = cuba_float(x, params(cd=[0.5, 0.0], vd=1.0, th=None))
    assert u[0, 0, 0].tolist() == [1.0, 0.5, 0.25, 0.125]
    assert u[0, 1, 0].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert v[0, 0].tolist() == [2.0, 1.5, 1.25, 1.125]      # vd = 1: v is the summed current


def test_per_neuron_decays():
    p = CubaParams(torch.tensor([[0.0, 0.5, 1.0]]), torch.tensor(1.0), None)
    x = torch.zeros(1, 1, 3, 3)
    x[..., 0] = 1.0
    _, u, _, _ = cuba_loihi(x, p)
    assert u[0, 0, :, 1].tolist() == [1.0, 0.5, 0.0]


def test_bias_subtract_reset_and_refractory():
    x = torch.zeros(1, 1, 1, 8)
    s, _, v, _ = cuba_float(x, params(cd=1.0, vd=0.0, th=1.0, bias=0.375, reset="subtract"))
    assert s[0, 0].tolist() == [0, 0, 1, 0, 0, 1, 0, 0]            # 1.125 - 1 stays 0.125
    assert v[0, 0].tolist()[:4] == [0.375, 0.75, 1.125, 0.5]
    s, _, _, _ = cuba_loihi(x, params(cd=1.0, vd=0.0, th=1.0, bias=0.375, refractory=2))
    assert s[0, 0].tolist() == [0, 0, 1, 0, 0, 0, 0, 1]            # 2 silent steps at v = 0


def test_graded_and_multi_spikes():
    x = torch.tensor([0.5, 2.5, 0.0, 7.0]).reshape(1, 1, 1, 4)
    p = dict(cd=1.0, vd=1.0, th=1.0)
    s, _, _, _ = cuba_loihi(x, params(**p, spike="graded"))
    assert s[0, 0].tolist() == [0.0, 2.5, 0.0, 7.0]
    s, _, v, st = cuba_loihi(x, params(**p, spike="multi", reset="subtract"))
    assert s[0, 0].tolist() == [0, 2, 0, 6]           # counts of thresholds strictly exceeded


def _li_loss(cd, vd, x, precision):
    p = CubaParams(cd.reshape(1, 1), vd, None)
    v, u, _ = li_sequence(x, p, precision=precision)
    w = torch.linspace(-1, 2, x.shape[-1], dtype=x.dtype)
    return (v[0, 0] * w).sum() + (u[0, 0, 0] ** 2).sum()


def test_decay_gradients_are_the_true_derivatives():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 1, 1, 30, generator=g, dtype=torch.float64)
    cd = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    vd = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    _li_loss(cd, vd, x, "float").backward()
    eps = 1e-6
    for var, grad in ((cd, cd.grad), (vd, vd.grad)):
        with torch.no_grad():
            var += eps
            up = _li_loss(cd, vd, x, "float")
            var -= 2 * eps
            down = _li_loss(cd, vd, x, "float")
            var += eps
        assert grad == pytest.approx(((up - down) / (2 * eps)).item(), rel=1e-6)


def test_loihi_decay_gradient_is_the_float_one_not_slayers():
    g = torch.Generator().manual_seed(4)
    x = (torch.randn(1, 1, 1, 30, generator=g) * 64).round() / 64
    grads = {}
    for precision in ("float", "loihi"):
        cd = torch.tensor(0.25, requires_grad=True)
        vd = torch.tensor(0.125, requires_grad=True)
        _li_loss(cd, vd, x, precision).backward()
        grads[precision] = (cd.grad, vd.grad)
    for f, q in zip(grads["float"], grads["loihi"]):
        assert q == pytest.approx(f.item(), rel=2e-2)    # same sign and scale (SLAYER: x -4096)


def test_spike_surrogates():
    x = torch.tensor([-0.5, 0.0, 0.5])
    d = SlayerExp(tau_grad=1.0, scale_grad=2.0).derivative(x, 1.0)
    torch.testing.assert_close(d, 0.2 / 200 * torch.exp(-x.abs() / 100))
    sig = torch.sigmoid(4 * x)
    torch.testing.assert_close(Sigmoid(4.0).derivative(x), 4 * sig * (1 - sig))
    torch.testing.assert_close(FastSigmoid(2.0).derivative(x), 1 / (2 * x.abs() + 1) ** 2)
    assert make("sigmoid", slope=4.0) == Sigmoid(4.0)
    with pytest.raises(SnnpipeError, match="surrogate"):
        make("tanh")


def test_spike_gradient_flows_through_the_surrogate_to_v_and_threshold():
    v = torch.tensor([0.5, 1.5], requires_grad=True)
    theta = torch.tensor(1.0, requires_grad=True)
    s = spike(v - theta, theta, FastSigmoid(1.0))
    assert s.tolist() == [0.0, 1.0]
    s.sum().backward()
    assert v.grad.tolist() == pytest.approx([1 / 1.5 ** 2] * 2)
    assert theta.grad.item() == pytest.approx(-2 / 1.5 ** 2)


def test_module_trains_every_parameter_on_request():
    n = Cuba(current_decay=0.3, voltage_decay=0.1, threshold=0.5, bias=0.05, requires_grad=True,
             train_threshold=True, train_bias=True, surrogate=FastSigmoid(), precision="loihi")
    x = torch.rand(2, 4, 20)
    n(x).sum().backward()
    for name, p in n.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_li_module_outputs_the_membrane():
    li = Li(current_decay=0.5, voltage_decay=1.0)
    out = li(impulse(3).reshape(1, 1, 3))
    assert out[0, 0].tolist() == [1.0, 0.5, 0.25]


def test_persistent_state_continues_the_trace():
    x = torch.rand(2, 3, 20)
    whole = Cuba(current_decay=0.2, voltage_decay=0.1, threshold=0.8)(x)
    n = Cuba(current_decay=0.2, voltage_decay=0.1, threshold=0.8, persistent_state=True)
    assert torch.equal(torch.cat([n(x[..., :7]), n(x[..., 7:])], -1), whole)
