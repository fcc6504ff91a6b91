"""Event files and their conversion to rasters, compatible with lava-dl's ``slayer.io``.

Formats (40 bits per event, big-endian, as slayer.io reads them):
    ``.bs1`` (1-D): 16-bit neuron id ``x``, 1 polarity bit ``c``, 23-bit timestamp in microseconds.
    ``.bs2`` (2-D): 8-bit ``x``, 8-bit ``y``, 1 polarity bit, 23-bit timestamp in microseconds.
    ``.npy`` events: (n_events, 3) columns x, c, t or (n_events, 4) columns x, y, c, t, with t in
    ``time_unit`` seconds (default ms), slayer's ``xypt`` layout.
Timestamps are kept in milliseconds, as slayer does. A raster is (channels, time) of integer
counts with ``channel = c * n_x + x`` (1-D) or ``(c * n_y + y) * n_x + x`` (2-D): slayer's
``fill_tensor`` layout (C, H, W, T) flattened.

Difference from slayer (on purpose): slayer's ``encode_1d_spikes`` writes 0 as the high byte
of every neuron id (it masks ``(x >> 8) & 0xFF00``), so ids >= 256 are lost; ours writes them.
For ids < 256 the bytes are identical. Binning counts every event (slayer's ``SUM`` mode with
numpy fancy indexing drops repeated events in one bin).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snnpipe.pipeline.ir.atomic import atomic_path, write_bytes_atomic
from snnpipe.pipeline.ir.errors import FormatError

T_MAX_US = (1 << 23) - 1


@dataclass
class Events:
    """Spike events: ``x``, ``y`` (None for 1-D), polarity ``c``, times ``t`` in ms, payload ``p``."""

    x: np.ndarray
    y: np.ndarray | None
    c: np.ndarray
    t: np.ndarray
    p: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return 1 if self.y is None else 2

    def __len__(self) -> int:
        return len(self.t)


def _read_bytes(path) -> np.ndarray:
    path = Path(path)
    try:
        raw = np.frombuffer(path.read_bytes(), dtype=np.uint8).astype(np.int64)
    except FileNotFoundError:
        raise FormatError("no such file", file=path) from None
    if raw.size % 5:
        raise FormatError("event file length is not a multiple of 5 bytes (40-bit events)",
                          file=path, field="size", found=raw.size)
    return raw.reshape(-1, 5)


def _times_and_polarity(b: np.ndarray):
    c = b[:, 2] >> 7
    t_us = ((b[:, 2] << 16) | (b[:, 3] << 8) | b[:, 4]) & T_MAX_US
    return c, t_us / 1000.0


def read_bs1(path) -> Events:
    """Read a ``.bs1`` file (1-D events)."""
    b = _read_bytes(path)
    c, t = _times_and_polarity(b)
    return Events(x=(b[:, 0] << 8) | b[:, 1], y=None, c=c, t=t)


def read_bs2(path) -> Events:
    """Read a ``.bs2`` file (2-D events, 8-bit x and y)."""
    b = _read_bytes(path)
    c, t = _times_and_polarity(b)
    return Events(x=b[:, 0], y=b[:, 1], c=c, t=t)


def _encode(path, hi: np.ndarray, lo: np.ndarray, ev: Events) -> None:
    t_us = np.round(np.asarray(ev.t, dtype=np.float64) * 1000).astype(np.int64)
    c = np.round(ev.c).astype(np.int64)
    if len(t_us) and (t_us.min() < 0 or t_us.max() > T_MAX_US):
        raise FormatError("timestamps must fit 23 bits of microseconds", file=path, field="t",
                          expected=f"0..{T_MAX_US / 1000} ms", found=f"{t_us.min() / 1000}..{t_us.max() / 1000} ms")
    if len(c) and (c.min() < 0 or c.max() > 1):
        raise FormatError("polarity must be 0 or 1", file=path, field="c", found=np.unique(c))
    out = np.empty((len(t_us), 5), dtype=np.uint8)
    out[:, 0], out[:, 1] = hi, lo
    out[:, 2] = ((t_us >> 16) & 0x7F) | (c << 7)
    out[:, 3] = (t_us >> 8) & 0xFF
    out[:, 4] = t_us & 0xFF
    write_bytes_atomic(path, out.tobytes())


def _check_range(path, name, a, hi):
    if len(a) and (a.min() < 0 or a.max() > hi):
        raise FormatError(f"{name} addresses out of range", file=path, field=name,
                          expected=f"0..{hi}", found=f"{a.min()}..{a.max()}")


def write_bs1(path, ev: Events) -> None:
    """Write 1-D events as ``.bs1`` (neuron ids 0..65535)."""
    x = np.round(ev.x).astype(np.int64)
    _check_range(path, "x", x, 0xFFFF)
    _encode(path, (x >> 8) & 0xFF, x & 0xFF, ev)


def write_bs2(path, ev: Events) -> None:
    """Write 2-D events as ``.bs2`` (x and y 0..255)."""
    x, y = np.round(ev.x).astype(np.int64), np.round(ev.y).astype(np.int64)
    _check_range(path, "x", x, 0xFF)
    _check_range(path, "y", y, 0xFF)
    _encode(path, x, y, ev)


def read_npy_events(path, time_unit: float = 1e-3) -> Events:
    """Read slayer's ``xypt`` numpy events; ``time_unit`` converts the file's t to seconds."""
    try:
        a = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FormatError("no such file", file=path) from None
    except (ValueError, OSError) as e:
        raise FormatError(f"not a .npy array: {e}", file=path) from None
    if a.ndim != 2 or a.shape[1] not in (3, 4):
        raise FormatError("event array must be (n_events, 3) x,c,t or (n_events, 4) x,y,c,t",
                          file=path, field="shape", found=a.shape)
    t = a[:, -1] * time_unit * 1e3
    if a.shape[1] == 3:
        return Events(x=a[:, 0].astype(np.int64), y=None, c=a[:, 1], t=t)
    return Events(x=a[:, 0], y=a[:, 1], c=a[:, 2], t=t)


def write_npy_events(path, ev: Events, time_unit: float = 1e-3) -> None:
    """Write events in slayer's ``xypt`` numpy layout (float64 columns)."""
    cols = [ev.x] + ([] if ev.y is None else [ev.y]) + [ev.c, np.asarray(ev.t) / (time_unit * 1e3)]
    with atomic_path(path, suffix=".npy") as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.stack([np.asarray(v, dtype=np.float64) for v in cols], axis=1))


READERS = {".bs1": read_bs1, ".bs2": read_bs2, ".npy": read_npy_events}


def read_events(path) -> Events:
    """Read any supported event file, chosen by its suffix."""
    path = Path(path)
    try:
        return READERS[path.suffix](path)
    except KeyError:
        raise FormatError("unsupported event file type", file=path, field="suffix",
                          expected=" | ".join(READERS), found=path.suffix or "none") from None


def to_raster(ev: Events, *, n_x=None, n_y=None, n_c=None, steps=None, dt_ms: float = 1.0) -> np.ndarray:
    """Bin events into an int64 raster (channels, time); sizes default to the largest address + 1.

    A graded event adds its payload (rounded), a binary one adds 1; events outside the raster are
    dropped, as slayer's ``fill_tensor`` does.
    """
    x = np.round(ev.x).astype(np.int64)
    c = np.round(ev.c).astype(np.int64)
    t = np.round(np.asarray(ev.t) / dt_ms).astype(np.int64)
    y = np.zeros_like(x) if ev.y is None else np.round(ev.y).astype(np.int64)
    n_x = int(x.max() + 1) if n_x is None else n_x
    n_y = (1 if ev.y is None else int(y.max() + 1)) if n_y is None else n_y
    n_c = int(c.max() + 1) if n_c is None else n_c
    steps = int(t.max() + 1) if steps is None else steps
    keep = (x >= 0) & (x < n_x) & (y >= 0) & (y < n_y) & (c >= 0) & (c < n_c) & (t >= 0) & (t < steps)
    w = np.ones(len(x), dtype=np.int64) if ev.p is None else np.round(ev.p).astype(np.int64)
    raster = np.zeros((n_c * n_y * n_x, steps), dtype=np.int64)
    ch = (c * n_y + y) * n_x + x
    np.add.at(raster, (ch[keep], t[keep]), w[keep])
    return raster


def from_raster(raster, *, n_x=None, n_y=None, dt_ms: float = 1.0) -> Events:
    """Events from a (channels, time) raster of counts (a count k gives k events in that bin).

    With ``n_y`` given the channels are read as (c, y, x) (2-D events); otherwise as (c, x) with
    ``n_x`` (default: all channels, polarity 0).
    """
    raster = np.asarray(raster)
    ch, t = np.nonzero(raster)
    reps = raster[ch, t].astype(np.int64)
    ch, t = np.repeat(ch, reps), np.repeat(t, reps)
    n_x = raster.shape[0] if n_x is None and n_y is None else n_x
    x = ch % n_x
    if n_y is None:
        return Events(x=x, y=None, c=ch // n_x, t=t * dt_ms)
    return Events(x=x, y=(ch // n_x) % n_y, c=ch // (n_x * n_y), t=t * dt_ms)
