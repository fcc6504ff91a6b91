"""ProcessModels of :mod:`snnpipe.processes.multisyn.process`: ``floating_pt`` and bit-accurate
``fixed_pt``.

Floating point follows Lava's float LIF (DESIGN.md 5.3): ``u_k = u_k (1 - du_k) + a_k``,
``v = v (1 - dv) + sum_k u_k + bias_mant`` (``bias_exp`` ignored), spike ``v > vth``.

Fixed point applies the Loihi rules of :mod:`snnpipe.hwmap.targets.loihi` (DESIGN.md 5.1, 6.1), with
Lava's ``du`` offset (``iDecay = du + 1``): per current ``u_k = current_step(u_k, a_k, du_k + 1)``
(24-bit wrap), ``v = voltage_step(v, sum_k u_k, dv, bias_array(bias_mant, bias_exp))`` (24-bit
saturation), ``spike_and_reset(v, threshold_value(vth))``. With ``n_syn = 1`` this is Lava's
``PyLifModelBitAcc`` bit for bit (inputs ``|a| < 2^25``, where Lava's int32 ``a << 6`` is exact).
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from snnpipe.hwmap.targets.loihi import (bias_array, current_step, spike_and_reset, threshold_value,
                                         voltage_step)
from snnpipe.processes.multisyn.process import MAX_SYN, LeakyReadout, MultiSynCuba, syn_port_name

_FLOAT_IN = LavaPyType(PyInPort.VEC_DENSE, float)
_FIXED_IN = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)


def _inputs(model) -> np.ndarray:
    """Receive every synapse port (unconnected ones give zeros): (n_syn, N)."""
    ports = [getattr(model, syn_port_name(k)) for k in range(MAX_SYN)]
    received = [p.recv() for p in ports]
    return np.stack(received[:model.proc_params["n_syn"]])


class _FloatModel(PyLoihiProcessModel):
    a_in0: PyInPort = _FLOAT_IN
    a_in1: PyInPort = _FLOAT_IN
    a_in2: PyInPort = _FLOAT_IN
    a_in3: PyInPort = _FLOAT_IN
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    u: np.ndarray = LavaPyType(np.ndarray, float)
    v: np.ndarray = LavaPyType(np.ndarray, float)
    du: np.ndarray = LavaPyType(np.ndarray, float)
    dv: np.ndarray = LavaPyType(np.ndarray, float)
    bias_mant: np.ndarray = LavaPyType(np.ndarray, float)
    bias_exp: np.ndarray = LavaPyType(np.ndarray, float)

    def integrate(self) -> None:
        """Decay and integrate u (n_syn, N) and v (N,) in place."""
        a = _inputs(self)
        self.u[:] = self.u * (1 - self.du)
        self.u[:] += a
        self.v[:] = self.v * (1 - self.dv) + self.u.sum(axis=0) + self.bias_mant


class _FixedModel(PyLoihiProcessModel):
    a_in0: PyInPort = _FIXED_IN
    a_in1: PyInPort = _FIXED_IN
    a_in2: PyInPort = _FIXED_IN
    a_in3: PyInPort = _FIXED_IN
    u: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    v: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    du: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=13)
    dv: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=13)
    bias_mant: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=13)
    bias_exp: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=3)

    def integrate(self) -> np.ndarray:
        """Apply the Loihi current and voltage rules; returns v as int64 (N,) before the spike."""
        a = _inputs(self)
        u = current_step(self.u.astype(np.int64), a, self.du.astype(np.int64) + 1)
        self.u[:] = u
        bias = bias_array(self.bias_mant, self.bias_exp)
        return voltage_step(self.v.astype(np.int64), u.sum(axis=0), self.dv.astype(np.int64),
                            bias)


@implements(proc=MultiSynCuba, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyMultiSynCubaFloat(_FloatModel):
    """Floating-point multi-synapse CUBA LIF."""

    vth: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self) -> None:
        self.integrate()
        s = self.v > self.vth
        if self.proc_params["reset"] == "subtract":
            self.v[s] -= self.vth[s]
        else:
            self.v[s] = 0
        self.s_out.send(s)


@implements(proc=MultiSynCuba, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyMultiSynCubaFixed(_FixedModel):
    """Bit-accurate multi-synapse CUBA LIF (Loihi rules from snnpipe.hwmap.targets.loihi)."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    vth: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=17)

    def run_spk(self) -> None:
        v = self.integrate()
        theta = threshold_value(self.vth.astype(np.int64))
        if self.proc_params["reset"] == "subtract":
            s = v > theta
            v = v - s * theta
        else:
            s, v = spike_and_reset(v, theta)
        self.v[:] = v
        self.s_out.send(s)


@implements(proc=LeakyReadout, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyLeakyReadoutFloat(_FloatModel):
    """Floating-point leaky readout: sends v every step."""

    def run_spk(self) -> None:
        self.integrate()
        self.s_out.send(self.v)


@implements(proc=LeakyReadout, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyLeakyReadoutFixed(_FixedModel):
    """Bit-accurate leaky readout: Loihi current and voltage rules, no threshold; sends v."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)

    def run_spk(self) -> None:
        self.v[:] = self.integrate()
        self.s_out.send(self.v)
