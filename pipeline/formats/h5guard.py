"""A damaged HDF5 file can crash the HDF5 C library while it is read (for example a corrupted
variable-length string, whose heap reference libhdf5 follows: a segmentation fault), and no
Python code can catch that. :func:`probe` reads the file in a forked child first; when the
child dies of a signal the file is refused with a :class:`FormatError` instead of taking the
caller's process down. Where ``os.fork`` does not exist (Windows) the file is read directly.
"""
from __future__ import annotations

import os
import signal
import time

from snnpipe.pipeline.ir.errors import FormatError

TIMEOUT_S = 120.0
_PROBED: set = set()          # (path, size, mtime) of the files read safely in this process


def probe(path, read) -> None:
    """Run ``read(path)`` in a forked child (its exceptions are ignored there: the caller
    reads again and reports them); raise FormatError naming ``path`` when the child crashes
    or hangs past :data:`TIMEOUT_S`. A file probed before in this process, unchanged since
    (same size and modification time), is not probed again."""
    if not hasattr(os, "fork"):
        return
    try:
        st = os.stat(path)
        key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    except OSError:
        key = None
    if key is not None and key in _PROBED:
        return
    pid = os.fork()
    if pid == 0:                                  # the child: read, then leave at once
        try:
            read(path)
        except BaseException:                     # noqa: BLE001 - reported by the parent's read
            pass
        os._exit(0)
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise FormatError(f"reading the file did not finish in {TIMEOUT_S:.0f} s: damaged",
                              file=path)
        time.sleep(0.005)
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        raise FormatError(f"the HDF5 library crashed reading the file ({name}): it is damaged",
                          file=path)
    if key is not None:
        _PROBED.add(key)
