"""The loihi precision equals Lava's fixed-point LIF (DESIGN 5.1) bit for bit, including the
bias, the 24-bit wrap of u and the 24-bit saturation of v (which SLAYER does not model)."""
import numpy as np
import pytest
import torch

from models.neurons.cuba import CubaParams, cuba_loihi

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
