"""Saving and loading hardware configurations: ``config.json`` plus ``config.npz``.

The JSON file holds the target name, the format version, scalar and small fields; arrays
larger than ``INLINE_MAX`` elements go to the ``.npz`` beside it. Both are written atomically.
Loadable without torch.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from snnpipe.pipeline.ir.atomic import write_bytes_atomic, write_text_atomic
from snnpipe.pipeline.ir.errors import FormatError

CONFIG_FORMAT = "snnpipe-hwconfig"
CONFIG_VERSION = 1
INLINE_MAX = 256


def save_config(path, target: str, fields: dict) -> Path:
    """Write ``fields`` (numpy arrays, numbers, strings, lists, dicts) for ``target``.

    ``path`` is a directory (``config.json`` is written inside it) or a ``.json`` path.
    Returns the path of the JSON file.
    """
    path = Path(path)
    if path.suffix != ".json":
        path = path / "config.json"
    npz_name = path.with_suffix(".npz").name
    doc = {"format": CONFIG_FORMAT, "version": CONFIG_VERSION, "target": target, "fields": {}}
    big = {}
    for name, value in fields.items():
        if isinstance(value, np.ndarray):
            entry = {"dtype": str(value.dtype), "shape": list(value.shape)}
            if value.size > INLINE_MAX:
                big[name] = value
                entry["npz"] = npz_name
            else:
                entry["data"] = value.tolist()
            doc["fields"][name] = {"array": entry}
        else:
            doc["fields"][name] = {"value": _plain(value)}
    if big:
        buf = io.BytesIO()
        np.savez_compressed(buf, **big)
        write_bytes_atomic(path.with_suffix(".npz"), buf.getvalue())
    write_text_atomic(path, json.dumps(doc, indent=1))
    return path


def _plain(v):
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def load_config(path) -> tuple[str, dict]:
    """Read a config written by :func:`save_config`. Returns ``(target, fields)``.

    Raises:
        FormatError: naming the file and field when the file is missing, not JSON, of another
            format or a newer version, or an array is missing or has the wrong shape.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise FormatError("no such file", file=path) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FormatError(f"not a JSON config: {e}", file=path) from None
    if not isinstance(doc, dict) or doc.get("format") != CONFIG_FORMAT:
        raise FormatError("not an snnpipe hardware config", file=path, field="format",
                          expected=CONFIG_FORMAT, found=doc.get("format") if isinstance(doc, dict) else type(doc).__name__)
    if not isinstance(doc.get("version"), int) or doc["version"] > CONFIG_VERSION:
        raise FormatError("unsupported config version; upgrade snnpipe", file=path, field="version",
                          expected=f"<= {CONFIG_VERSION}", found=doc.get("version"))
    npz = None
    fields = {}
    for name, entry in dict(doc.get("fields", {})).items():
        if "value" in entry:
            fields[name] = entry["value"]
            continue
        try:
            spec = entry["array"]
            if "npz" in spec:
                if npz is None:
                    npz = np.load(path.parent / spec["npz"])
                arr = np.asarray(npz[name])
            else:
                arr = np.asarray(spec["data"], dtype=spec["dtype"]).reshape(spec["shape"])
            if list(arr.shape) != list(spec["shape"]):
                raise FormatError("array shape differs from the one recorded", file=path,
                                  field=name, expected=spec["shape"], found=list(arr.shape))
            fields[name] = arr.astype(spec["dtype"], copy=False)
        except FormatError:
            raise
        except (KeyError, ValueError, TypeError, OSError) as e:
            raise FormatError(f"cannot read array: {e!r}", file=path, field=name) from None
    return doc.get("target", ""), fields
