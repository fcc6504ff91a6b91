"""The Xylo configuration: a network in Rockpool's specification names, as integer arrays,
saved as ``config.json`` (+ ``config.npz``). Its design rules are
:mod:`snnpipe.hwmap.targets.xylo_rules`."""
from __future__ import annotations

from dataclasses import dataclass, field, fields as dc_fields
from pathlib import Path

import numpy as np

from snnpipe.hwmap.mappers.configio import load_config, save_config
from snnpipe.hwmap.targets.xylo import STATE_MAX, TARGET
from snnpipe.pipeline.ir.errors import FormatError

ARRAY_FIELDS = ("weights_in", "weights_rec", "weights_out", "dash_mem", "dash_mem_out", "dash_syn",
                "dash_syn_2", "dash_syn_out", "threshold", "threshold_out", "bias", "bias_out")
SCALAR_FIELDS = ("weight_shift_in", "weight_shift_rec", "weight_shift_out")


@dataclass
class XyloConfig:
    """A Xylo network in Rockpool's specification names; integer numpy arrays.

    Shapes: ``weights_in`` (Nin, Nhid, 2), ``weights_rec`` (Nhid, Nhid, 2), ``weights_out``
    (Nhid, Nout); ``dash_mem``, ``dash_syn``, ``dash_syn_2``, ``threshold``, ``bias`` (Nhid,);
    ``dash_mem_out``, ``dash_syn_out``, ``threshold_out``, ``bias_out`` (Nout,). ``aliases`` is a
    list per hidden neuron of alias target ids (``[]`` or ``[a]``; ``-1`` is read as ``[]``).
    ``dt`` is the step in seconds. Missing per-neuron arrays default to 0 (Rockpool's default).
    Raises FormatError naming the field on a shape or type mismatch.
    """

    weights_in: np.ndarray
    weights_out: np.ndarray
    weights_rec: np.ndarray | None = None
    dash_mem: np.ndarray | None = None
    dash_mem_out: np.ndarray | None = None
    dash_syn: np.ndarray | None = None
    dash_syn_2: np.ndarray | None = None
    dash_syn_out: np.ndarray | None = None
    threshold: np.ndarray | None = None
    threshold_out: np.ndarray | None = None
    bias: np.ndarray | None = None
    bias_out: np.ndarray | None = None
    weight_shift_in: int = 0
    weight_shift_rec: int = 0
    weight_shift_out: int = 0
    aliases: list = field(default_factory=list)
    dt: float = 1e-3

    def __post_init__(self):
        w_in = _int_array(self.weights_in, "weights_in")
        if w_in.ndim == 2:
            w_in = np.stack([w_in, np.zeros_like(w_in)], axis=-1)
        _shape(w_in, "weights_in", 3, (None, None, 2))
        n_in, n_hid, _ = w_in.shape
        w_out = _int_array(self.weights_out, "weights_out")
        _shape(w_out, "weights_out", 2, (n_hid, None))
        n_out = w_out.shape[1]
        w_rec = np.zeros((n_hid, n_hid, 2), np.int64) if self.weights_rec is None else \
            _int_array(self.weights_rec, "weights_rec")
        if w_rec.ndim == 2:
            w_rec = np.stack([w_rec, np.zeros_like(w_rec)], axis=-1)
        _shape(w_rec, "weights_rec", 3, (n_hid, n_hid, 2))
        self.weights_in, self.weights_rec, self.weights_out = w_in, w_rec, w_out
        for name in ARRAY_FIELDS[3:]:
            n = n_out if name.endswith("_out") else n_hid
            value = getattr(self, name)
            arr = np.zeros(n, np.int64) if value is None else _int_array(value, name)
            if arr.ndim == 0:
                arr = np.full(n, int(arr), np.int64)
            _shape(arr, name, 1, (n,))
            setattr(self, name, arr)
        for name in SCALAR_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise FormatError("weight shift must be an integer", field=name, found=repr(value))
            setattr(self, name, int(value))
        self.aliases = _aliases(self.aliases, n_hid)
        if not isinstance(self.dt, (int, float)) or not self.dt > 0:
            raise FormatError("time step must be a positive number of seconds", field="dt",
                              found=repr(self.dt))
        self.dt = float(self.dt)

    @property
    def readout(self) -> bool:
        """Whether the output neurons are leaky readouts whose output is ``Vmem_out``: their
        threshold is the largest state, so they never fire (how the mapper places ``li``
        readouts)."""
        return bool(np.all(self.threshold_out >= STATE_MAX))

    @property
    def shape(self) -> tuple[int, int, int]:
        """(Nin, Nhid, Nout)."""
        return self.weights_in.shape[0], self.weights_in.shape[1], self.weights_out.shape[1]

    def to_fields(self) -> dict:
        """The plain fields saved to ``config.json``; aliases as an (Nhid,) array, -1 for none."""
        out = {name: getattr(self, name) for name in ARRAY_FIELDS + SCALAR_FIELDS}
        out["aliases"] = np.array([a[0] if len(a) == 1 else -1 for a in self.aliases], np.int64)
        if any(len(a) > 1 for a in self.aliases):
            out["aliases"] = [list(a) for a in self.aliases]
        out["dt"] = self.dt
        return out

    def save(self, path) -> Path:
        """Write ``config.json`` (+ ``config.npz``) into directory ``path``; returns the JSON path."""
        return save_config(path, TARGET, self.to_fields())

    @classmethod
    def load(cls, path) -> "XyloConfig":
        """Read a config written by :meth:`save`; FormatError names the file and the field."""
        path = Path(path)
        if path.is_dir():
            path = path / "config.json"
        target, fields = load_config(path)
        if target != TARGET:
            raise FormatError("config is for another target", file=path, field="target",
                              expected=TARGET, found=target)
        missing = [n for n in ("weights_in", "weights_out") if n not in fields]
        if missing:
            raise FormatError("missing field", file=path, field=missing[0])
        known = {f.name for f in dc_fields(cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise FormatError("unknown field", file=path, field=unknown[0], expected=sorted(known))
        try:
            return cls(**fields)
        except FormatError as e:
            raise FormatError(e.message, file=path, field=e.field, expected=e.expected,
                              found=e.found) from None


def _int_array(value, name: str) -> np.ndarray:
    """An integer-valued array as int64 (floats holding whole numbers are accepted)."""
    arr = np.asarray(value)
    integral = np.issubdtype(arr.dtype, np.integer)
    whole = np.issubdtype(arr.dtype, np.floating) and bool(np.all(np.isfinite(arr) & (arr == np.round(arr))))
    if not (integral or whole or arr.size == 0):
        raise FormatError("expected an integer array", field=name, found=str(arr.dtype))
    return arr.astype(np.int64)


def _shape(arr: np.ndarray, name: str, ndim: int, dims: tuple) -> None:
    ok = arr.ndim == ndim and all(d is None or d == s for d, s in zip(dims, arr.shape))
    if not ok:
        want = "(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"
        raise FormatError("array has the wrong shape", field=name, expected=want, found=arr.shape)


def _aliases(value, n_hid: int) -> list:
    if value is None or (isinstance(value, (list, tuple)) and len(value) == 0):
        return [[] for _ in range(n_hid)]
    if len(value) != n_hid:
        raise FormatError("one alias entry per hidden neuron", field="aliases", expected=n_hid,
                          found=len(value))
    out = []
    for i, a in enumerate(value):
        targets = [int(a)] if np.ndim(a) == 0 else [int(x) for x in a]
        targets = [t for t in targets if t != -1]
        if any(not 0 <= t < n_hid for t in targets):
            raise FormatError("alias target out of range", field=f"aliases[{i}]",
                              expected=f"0..{n_hid - 1} or -1", found=targets)
        out.append(targets)
    return out
