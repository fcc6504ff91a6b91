"""Run Lava without hanging on a failing ProcessModel and without leaving workers behind.

lava-nc 0.10.0 defect: when a ProcessModel raises, the runtime waits forever (it ``join``s
workers that are themselves waiting for messages of the failed one), and ``stop()`` afterwards
waits for answers from services that are gone. :func:`run_steps` therefore starts each run
non-blocking and polls: the run is over when every runtime service has answered; if instead a
worker exits (workers only exit on error before ``stop``) or a service answers with anything
but DONE, it raises :class:`BackendError`. :func:`shutdown` stops the runtime normally, or after
a failure terminates the runtime's own workers (children of this process, by handle) and
releases its shared memory without talking to dead services.
"""
from __future__ import annotations

import time

from lava.magma.core.run_conditions import RunSteps
from lava.magma.runtime.mgmt_token_enums import MGMT_RESPONSE, enum_equal

from snnpipe.pipeline.ir.errors import BackendError

POLL_S = 0.01


def _actors(proc) -> list:
    runtime = getattr(proc, "runtime", None)
    return [] if runtime is None else list(runtime._messaging_infrastructure.actors)


def _any_exited(proc) -> bool:
    try:
        return any(a.exitcode is not None for a in _actors(proc))
    except ValueError:  # a worker already closed by Lava's own error path
        return True


def _worker_errors(proc) -> str:
    """The exceptions reported by exited workers, as text."""
    found = []
    for actor in _actors(proc):
        try:
            if actor.exitcode is not None and actor.exception:
                found.append(f"{type(actor.exception[0]).__name__}: {actor.exception[0]}")
        except (ValueError, OSError, EOFError):
            continue
    return "; ".join(found) or "no traceback reported"


def run_steps(proc, steps: int, run_cfg) -> None:
    """Run the network of ``proc`` for ``steps`` Lava steps (first call builds the runtime).

    Raises:
        BackendError: a ProcessModel failed; the runtime is left for :func:`shutdown`.
    """
    proc.run(condition=RunSteps(num_steps=int(steps), blocking=False), run_cfg=run_cfg)
    ports = proc.runtime.service_to_runtime
    while not all(p.probe() for p in ports):
        if _any_exited(proc):
            raise BackendError(f"a Lava worker process failed during the run: "
                               f"{_worker_errors(proc)}", field="run")
        time.sleep(POLL_S)
    answers = [p.peek() for p in ports]
    if not all(enum_equal(a, MGMT_RESPONSE.DONE) for a in answers):
        raise BackendError("a Lava ProcessModel raised during the run (see its traceback "
                           "above)", field="run", expected="DONE", found=answers)
    proc.runtime.wait()


def shutdown(proc) -> None:
    """Stop the runtime of ``proc`` (no-op if none was built); never hangs on dead workers."""
    runtime = getattr(proc, "runtime", None)
    if runtime is None:
        return
    ports = runtime.service_to_runtime
    failed = _any_exited(proc) or any(
        p.probe() and not enum_equal(p.peek(), MGMT_RESPONSE.DONE) for p in ports)
    if failed:
        for actor in _actors(proc):
            try:
                if actor.is_alive():
                    actor.terminate()
            except ValueError:
                pass
        runtime._is_started = False
        runtime._is_running = False
    proc.stop()
