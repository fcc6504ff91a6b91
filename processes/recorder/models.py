"""The one ProcessModel of each recorder (no tag: used in fixed and floating point runs)."""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyRefPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from snnpipe.processes.recorder.process import PortRecorder, VarRecorder, open_record


class _Writer(PyLoihiProcessModel):
    """Opens the recorder file once and writes one column per step."""

    _file = None

    def write(self, data: np.ndarray) -> None:
        if self._file is None:
            p = self.proc_params
            self._file = open_record(p["path"], p["shape"], p["buffer"], mode="r+")
        self._file[..., (self.time_step - 1) % self._file.shape[-1]] = data


@implements(proc=PortRecorder, protocol=LoihiProtocol)
@requires(CPU)
class PyPortRecorder(_Writer):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)

    def run_spk(self) -> None:
        self.write(self.a_in.recv())


@implements(proc=VarRecorder, protocol=LoihiProtocol)
@requires(CPU)
class PyVarRecorder(_Writer):
    ref: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, float)

    def post_guard(self) -> bool:
        return True

    def run_post_mgmt(self) -> None:
        self.write(self.ref.read())
