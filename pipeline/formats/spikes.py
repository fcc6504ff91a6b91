"""Spike rasters on disk (DESIGN.md sections 2 and 7).

An input raster is a ``.npy`` array of integer event counts, shape (channels, time) or
(batch, channels, time). ``simulate`` writes ``OUT.npz`` with ``output`` (integer counts, same
leading shape as the input), ``t_offset`` (steps), ``backend`` and, with ``--record``, one array
per recorded state named ``<node>/<variable>``.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from snnpipe.pipeline.ir.atomic import write_bytes_atomic
from snnpipe.pipeline.ir.errors import FormatError


EVENT_SUFFIXES = (".bs1", ".bs2", ".events.npy")


def load_raster(path, *, channels: int | None = None, shape=None, dt_ms: float = 1.0,
                signed: bool = False) -> np.ndarray:
    """Read an input raster as int64 (batch, channels, time); a 2-D file gets batch 1.
    ``signed``: negative values are allowed (graded input of a sigma-delta network).

    ``.npy``: a raster (channels, time) or (batch, channels, time) of event counts. Event files
    (:mod:`snnpipe.pipeline.formats.events`): ``.bs1``, ``.bs2`` and slayer's ``xypt`` numpy arrays named
    ``*.events.npy`` are binned into ``dt_ms`` steps; ``shape`` (C, H, W) or (C, W) of the input
    (else ``channels``) gives the layout, slayer's (polarity, y, x).

    Raises:
        FormatError: naming the file when it is missing, not a ``.npy`` array, not 2-D or 3-D,
            not integer-valued, negative, or (when ``channels`` is given) of another width.
    """
    path = Path(path)
    if path.name.endswith(EVENT_SUFFIXES):
        counts = _events_raster(path, channels, shape, dt_ms)[None]
        if channels is not None and counts.shape[1] != channels:
            raise FormatError("events do not fit the network's input", file=path, field="channels",
                              expected=channels, found=counts.shape[1])
        return counts
    path = Path(path)
    if path.suffix not in (".npy",):
        raise FormatError("unsupported spike file type", file=path, field="suffix",
                          expected=".npy raster (channels, time) or (batch, channels, time), "
                                   "or events: " + " | ".join(EVENT_SUFFIXES),
                          found=path.suffix or "none")
    try:
        a = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FormatError("no such file", file=path) from None
    except (ValueError, OSError, EOFError) as e:
        raise FormatError(f"not a .npy array: {e}", file=path) from None
    if a.ndim not in (2, 3):
        raise FormatError("raster must be 2-D or 3-D", file=path, field="shape",
                          expected="(channels, time) or (batch, channels, time)", found=a.shape)
    if a.dtype.kind not in "biuf" or (a.dtype.kind == "f" and not np.all(np.isfinite(a))):
        raise FormatError("raster must hold finite numbers", file=path, field="dtype", found=a.dtype)
    counts = a.astype(np.int64)
    if a.dtype.kind == "f" and not np.array_equal(counts, a):
        raise FormatError("raster must hold integer event counts", file=path, field="values",
                          found="non-integer values")
    if not signed and (counts < 0).any():
        raise FormatError("event counts must be >= 0 (signed values are the graded input of "
                          "a sigma-delta network only)", file=path, field="values",
                          found=int(counts.min()))
    if counts.ndim == 2:
        counts = counts[None]
    if channels is not None and counts.shape[1] != channels:
        raise FormatError("raster width differs from the network's input", file=path,
                          field="channels", expected=channels, found=counts.shape[1])
    return counts


def save_result(path, output: np.ndarray, *, backend: str, t_offset: int,
                states: dict | None = None) -> Path:
    """Write ``OUT.npz`` atomically: ``output``, ``t_offset``, ``backend`` and ``<node>/<var>`` states."""
    arrays = {"output": np.asarray(output), "t_offset": np.int64(t_offset),
              "backend": np.array(backend)}
    for name, value in (states or {}).items():
        arrays[name] = np.asarray(value)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, value in arrays.items():
            member = io.BytesIO()
            np.save(member, value, allow_pickle=False)
            zf.writestr(name + ".npy", member.getvalue())
    write_bytes_atomic(path, buf.getvalue())
    return Path(path)


def _events_raster(path: Path, channels, shape, dt_ms: float) -> np.ndarray:
    """Bin an event file into (channels, time) in slayer's (polarity, y, x) layout, taken from
    the input's ``shape`` ((C, H, W) for 2-D events; (C, W) or (W,) for 1-D), else from
    ``channels`` (1-D: polarities from the file), else from the largest addresses. Events
    outside the layout are an error, not silently dropped."""
    from snnpipe.pipeline.formats.events import read_bs1, read_bs2, read_npy_events, to_raster

    ev = {".bs1": read_bs1, ".bs2": read_bs2}.get(path.suffix, read_npy_events)(path)
    if len(ev) == 0:
        raise FormatError("event file holds no events", file=path)
    shape = tuple(int(v) for v in shape) if shape is not None else None
    x, c = np.round(ev.x).astype(np.int64), np.round(ev.c).astype(np.int64)
    y = None if ev.y is None else np.round(ev.y).astype(np.int64)
    top = lambda a: int(a.max()) + 1                                # noqa: E731
    if y is not None:
        n_c, n_y, n_x = shape if shape is not None and len(shape) == 3 else (top(c), top(y), top(x))
    elif shape is not None:
        n_y, (n_c, n_x) = 1, (shape if len(shape) == 2 else (1, int(np.prod(shape))))
    elif channels is not None:
        n_y, n_c = 1, top(c)
        if channels % n_c:
            raise FormatError("polarities do not divide the network's input", file=path,
                              field="c", expected=f"a divisor of {channels}", found=n_c)
        n_x = channels // n_c
    else:
        n_c, n_y, n_x = top(c), 1, top(x)
    for name, a, n in (("x", x, n_x), ("y", y, n_y), ("c", c, n_c)):
        if a is not None and (a.min() < 0 or a.max() >= n):
            raise FormatError("events outside the network's input", file=path, field=name,
                              expected=f"0..{n - 1}", found=f"{a.min()}..{a.max()}")
    return to_raster(ev, n_c=n_c, n_y=None if y is None else n_y, n_x=n_x, dt_ms=dt_ms)
