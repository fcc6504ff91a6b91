"""The loihi precision equals Lava's fixed-point LIF (DESIGN 5.1) bit for bit, including the
bias, the 24-bit wrap of u and the 24-bit saturation of v (which SLAYER does not model); the
float precision equals Lava's floating-point Dense + LIF (DESIGN 5.3) within float64 rounding."""
import numpy as np
import pytest
import torch

from snnpipe.models.neurons.cuba_float import cuba_float
from snnpipe.models.neurons.cuba_loihi import cuba_loihi
from snnpipe.models.neurons.state import CubaParams

pytestmark = pytest.mark.lava


def test_loihi_precision_equals_lava_fixed_point_lif():
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor

    steps, n = 12, 4
    rng = np.random.default_rng(0)
    a = rng.integers(-200_000, 200_000, (n, steps))     # large: u wraps, v saturates
    a[:, 5:] = rng.integers(-300, 300, (n, steps - 5))  # small: spikes and resets
    i_decay, v_decay, vth, bias = 409, 100, 3000, np.array([5, -3, 0, 7])
    src = RingBuffer(data=a.astype(float))
    lif = LIF(shape=(n,), du=i_decay - 1, dv=v_decay, vth=vth, bias_mant=bias, bias_exp=6)
    src.s_out.connect(lif.a_in)
    mon_u, mon_v = Monitor(), Monitor()
    mon_u.probe(lif.u, steps)
    mon_v.probe(lif.v, steps)
    try:
        lif.run(condition=RunSteps(steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        u_ref = mon_u.get_data()[lif.name]["u"].T
        v_ref = mon_v.get_data()[lif.name]["v"].T
    finally:
        lif.stop()

    p = CubaParams(torch.tensor([[i_decay / 4096]]), torch.tensor(v_decay / 4096),
                   torch.tensor(vth / 64), torch.tensor(bias / 64))
    s, u, v, _ = cuba_loihi(torch.tensor(a / 64, dtype=torch.float32).reshape(1, 1, n, steps), p)
    u_int = (u[0, 0] * 4096).long().numpy()
    v_post = np.where(s[0].numpy() > 0, 0, (v[0] * 4096).long().numpy())
    assert np.abs(a * 64).max() > 2 ** 23 and s.sum() > 0      # the wrap is exercised
    assert np.array_equal(u_ref, u_int)
    assert np.array_equal(v_ref, v_post)


def test_float_precision_equals_lava_floating_point_dense_and_lif():
    """Lava floating point (DESIGN 5.3): u = u(1 - du) + W s, v = v(1 - dv) + u + bias, v > vth,
    reset v = 0; a spike entering Dense at step t reaches the LIF at step t + 1."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor

    steps, n_in, n = 25, 6, 5
    rng = np.random.default_rng(1)
    s_in = (rng.random((n_in, steps)) < 0.4).astype(float)
    w = rng.normal(0.0, 0.8, (n, n_in))
    du, dv, vth, bias = 0.3, 0.1, 1.1, 0.05
    src = RingBuffer(data=s_in)
    dense = Dense(weights=w)
    lif = LIF(shape=(n,), du=du, dv=dv, vth=vth, bias_mant=bias)
    src.s_out.connect(dense.s_in)
    dense.a_out.connect(lif.a_in)
    mons = {var: Monitor() for var in ("u", "v", "s_out")}
    mons["u"].probe(lif.u, steps)
    mons["v"].probe(lif.v, steps)
    mons["s_out"].probe(lif.s_out, steps)
    try:
        lif.run(condition=RunSteps(steps), run_cfg=Loihi2SimCfg(select_tag="floating_pt"))
        ref = {k: m.get_data()[lif.name][k].T for k, m in mons.items()}
    finally:
        lif.stop()

    a = torch.tensor(w @ s_in)                                  # Dense output at each step ...
    x = torch.zeros((1, 1, n, steps), dtype=torch.float64)
    x[0, 0, :, 1:] = a[:, :-1]                                  # ... arrives one step later
    p = CubaParams(torch.tensor([[du]], dtype=torch.float64), torch.tensor(dv, dtype=torch.float64),
                   torch.tensor(vth, dtype=torch.float64), torch.tensor(bias, dtype=torch.float64))
    s, u, v, _ = cuba_float(x, p)
    assert ref["s_out"].sum() > 0
    assert np.array_equal(s[0].numpy(), ref["s_out"])
    assert np.allclose(u[0, 0].numpy(), ref["u"], rtol=0, atol=1e-12)
    v_post = np.where(s[0].numpy() > 0, 0.0, v[0].numpy())
    assert np.allclose(v_post, ref["v"], rtol=0, atol=1e-12)
