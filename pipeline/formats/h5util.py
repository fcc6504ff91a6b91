"""Checked reads from HDF5 groups: every failure is a FormatError naming file, layer and field."""
from __future__ import annotations

import h5py
import numpy as np

from snnpipe.pipeline.ir.errors import FormatError

_KINDS = {"float": "fiu", "int": "iu", "bool": "b"}


def fail(file, where, field, message, expected=None, found=None) -> FormatError:
    """A FormatError for ``file`` at ``where`` (layer or node path), ``field`` (dataset name)."""
    return FormatError(message, file=file, where=where, field=field, expected=expected,
                       found=found)


def _member(parent: h5py.Group, name: str, kind: type, file, where):
    """``parent[name]`` when it is a ``kind`` (h5py.Dataset or h5py.Group); FormatError naming
    the file, layer and field when it is missing or of the other kind."""
    what, other = ("dataset", "group") if kind is h5py.Dataset else ("group", "dataset")
    if name not in parent:
        raise fail(file, where, name, f"missing {what}")
    obj = parent[name]
    if not isinstance(obj, kind):
        raise fail(file, where, name, f"expected a {what}", f"a {what}", f"a {other}")
    return obj


def dataset(group: h5py.Group, name: str, file, where) -> h5py.Dataset:
    """The dataset ``group[name]``; FormatError when it is missing or a group."""
    return _member(group, name, h5py.Dataset, file, where)


def read_array(group: h5py.Group, name: str, file, where, kind: str = "float",
               shapes=None) -> np.ndarray:
    """Read a numeric dataset as a numpy array, checking its dtype kind and shape.

    ``kind`` is ``float`` (any real number), ``int`` (integers, or floats holding integers)
    or ``bool``; ``shapes`` an optional collection of allowed shapes.
    """
    a = np.asarray(dataset(group, name, file, where)[()])
    ok = a.dtype.kind in _KINDS[kind]
    if kind == "int" and a.dtype.kind == "f":
        ok = bool(np.all(np.isfinite(a)) and np.all(a == np.rint(a)))
        a = a.astype(np.int64) if ok else a
    if kind == "bool" and a.dtype.kind in "iu":
        ok, a = bool(np.all((a == 0) | (a == 1))), a.astype(bool)
    if not ok:
        raise fail(file, where, name, "wrong dtype", f"{kind} values", str(a.dtype))
    if shapes is not None and a.shape not in shapes:
        raise fail(file, where, name, "wrong shape", " or ".join(map(str, shapes)), a.shape)
    return a


def read_int(group, name, file, where) -> int:
    """A scalar (or 1-element) integer dataset."""
    return int(read_array(group, name, file, where, "int", {(), (1,)}).reshape(()))


def read_str(group, name, file, where) -> str:
    """A string dataset, scalar or of shape (1,), fixed or variable length (netx ``type``)."""
    a = np.asarray(dataset(group, name, file, where)[()])
    if a.shape not in {(), (1,)}:
        raise fail(file, where, name, "wrong shape", "() or (1,)", a.shape)
    v = a.reshape(())[()]
    if isinstance(v, bytes):
        try:
            return v.decode("ascii")
        except UnicodeDecodeError:
            raise fail(file, where, name, "not ASCII text") from None
    if isinstance(v, str):
        return v
    raise fail(file, where, name, "wrong dtype", "a string", str(a.dtype))


def group(parent: h5py.Group, name: str, file, where) -> h5py.Group:
    """The sub-group ``parent[name]``; FormatError when missing or a dataset."""
    return _member(parent, name, h5py.Group, file, where)
