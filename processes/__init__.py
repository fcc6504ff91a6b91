"""The Lava backend: Graph -> Lava processes -> runs on Lava's CPU simulator.

``snnpipe.processes.compile.compile(graph, precision) -> LavaNetwork`` and
``snnpipe.processes.run.run(network, spikes, steps=None, probes=()) -> Record``;
``snnpipe.processes.smoke.three_neuron_check(precision)`` for ``snnpipe doctor``; custom processes in
``snnpipe.processes.multisyn``. Only ``compile``, ``run``, ``lavaguard`` and ``multisyn`` import Lava;
``import processes`` does not.
"""

import multiprocessing as _mp
import sys as _sys

_LAVA_MP = "lava.magma.runtime.message_infrastructure.multiprocessing"


def _let_lava_set_fork() -> None:
    """lava-nc calls ``multiprocessing.set_start_method('fork')`` (without ``force``) when it is
    first imported, which fails with "context has already been set" if anything queried the
    default context before (numba's parallel kernels do, on their first launch). Forget that
    choice so Lava's import succeeds: on Linux the default, which Lava then fixes, is fork."""
    if _LAVA_MP not in _sys.modules and _mp.get_start_method(allow_none=True) is not None:
        _mp.set_start_method(None, force=True)


_let_lava_set_fork()
