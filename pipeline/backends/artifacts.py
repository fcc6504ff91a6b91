"""Compiled networks: made from a Graph for a target, written to a folder (``snnpipe compile``)
and read back from any network file or deployment folder.

Targets: ``graph`` (torch and Lava build from the Graph itself), ``loihi`` (a LoihiConfig,
:func:`snnpipe.hwmap.mappers.loihi_map.map_graph`), ``xylo`` (a XyloConfig,
:func:`snnpipe.hwmap.mappers.xylo_map.quantize_and_map`), and for writing, ``lava`` (a bundle
that reruns on Lava: the network file and a manifest). On disk: ``config.json`` (+ ``.npz``),
``report.txt``, and ``mapping.json`` with the mapper's options when any were given, so that a
deployment is re-verified the way it was made.
"""
from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from pathlib import Path

import networkx as nx
import numpy as np
from h5py import is_hdf5

from snnpipe.hwmap.mappers.configio import load_config
from snnpipe.hwmap.mappers.loihi_config import load as load_loihi
from snnpipe.hwmap.mappers.loihi_config import save as save_loihi
from snnpipe.hwmap.mappers.loihi_map import map_graph, report_text, resource_report
from snnpipe.hwmap.mappers.xylo_config import XyloConfig
from snnpipe.hwmap.mappers.xylo_map import quantize_and_map
from snnpipe.hwmap.mappers.xylo_report import report_text as xylo_report_text
from snnpipe.hwmap.mappers.xylo_report import resource_report as xylo_resource_report
from snnpipe.hwmap.targets.loihi import LoihiLimits
from snnpipe.hwmap.targets.xylo import XYLO_AUDIO2, XyloLimits
from snnpipe.pipeline.backends.base import Compiled
from snnpipe.pipeline.formats.hdf5 import export as export_hdf5
from snnpipe.pipeline.formats.network_file import ReadOptions, is_nir
from snnpipe.pipeline.formats.network_file import load as load_graph
from snnpipe.pipeline.ir.atomic import write_bytes_atomic, write_text_atomic
from snnpipe.pipeline.ir.errors import FormatError, SnnpipeError
from snnpipe.pipeline.ir.graph import size

DEPLOY_TARGETS = ("lava", "loihi", "xylo")
BUNDLE_FORMAT = "snnpipe-lava-bundle"
LIMITS = {"loihi": LoihiLimits, "xylo": XyloLimits}


def compile(graph, target: str, **options) -> Compiled:  # noqa: A001 - the verb of the pipeline
    """``graph`` (a float Graph) compiled for ``target`` (``graph`` | ``loihi`` | ``xylo``);
    ``options`` are the mapper's keyword arguments (``limits``, ``state_headroom`` ...).
    Raises the mapper's typed errors for a graph the target cannot hold."""
    if target == "graph":
        return Compiled("graph", graph, graph)
    if target == "loihi":
        return Compiled("loihi", map_graph(graph, **options), graph, options=options)
    if target == "xylo":
        cfg, report = quantize_and_map(graph, **options)
        return Compiled("xylo", cfg, graph, layout=report.layout, report=report, options=options)
    raise SnnpipeError("unknown compile target", field="target",
                       expected=("graph", "loihi", "xylo"), found=target)


def load(path, options: ReadOptions = ReadOptions()) -> Compiled:
    """The network at ``path``: a network file (HDF5 or NIR, read with ``options``) or a lava
    bundle folder (target ``graph``), or a ``config.json`` (or its folder) of the Loihi-style
    or Xylo-style target, with the options of its ``mapping.json``."""
    path = Path(path)
    if (path.is_dir() and (path / "manifest.json").exists()) \
            or path.suffix in (".h5", ".hdf5", ".nir") or (path.is_file() and is_hdf5(path)):
        g = load_graph(network_file(path), options)
        return Compiled("graph", g, g)
    target, _ = load_config(path)
    folder = path if path.is_dir() else path.parent
    options = load_mapping(folder)
    if target == "xylo":
        return Compiled("xylo", XyloConfig.load(path), options=options)
    if target == "loihi":
        return Compiled("loihi", load_loihi(path), options=options)
    raise FormatError("config of an unknown target", file=path, field="target",
                      expected="loihi | xylo", found=target)


def network_file(path) -> Path:
    """The HDF5 network of ``path``: the file itself, or the one a lava bundle names."""
    path = Path(path)
    if not path.is_dir():
        return path
    manifest = path / "manifest.json"
    try:
        doc = json.loads(manifest.read_text())
    except (FileNotFoundError, json.JSONDecodeError) as e:
        raise FormatError(f"not a lava bundle ({e})", file=manifest) from None
    if doc.get("format") != BUNDLE_FORMAT:
        raise FormatError("not a lava bundle", file=manifest, field="format",
                          expected=BUNDLE_FORMAT, found=doc.get("format"))
    return path / doc["network"]


def load_mapping(out_dir) -> dict:
    """The mapper keyword arguments saved with a deployment in ``out_dir`` ({} when none),
    with ``limits`` as the target's limits dataclass."""
    path = Path(out_dir) / "mapping.json"
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text())
        target = doc.pop("target")
        if "limits" in doc:
            doc["limits"] = LIMITS[target](**doc["limits"])
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise FormatError(f"not a mapping file ({e})", file=path) from None
    return doc


def graded_input(c) -> bool:
    """Whether ``c`` (a Compiled or a Graph) takes signed, graded input: a sigma-delta (SDNN)
    network."""
    graph = c if isinstance(c, nx.MultiDiGraph) else c.graph
    if graph is not None:
        return any(d.get("model") == "sigma_delta" for _, d in graph.nodes(data=True))
    return c.target == "loihi" and any(p.sd for p in c.artifact.populations)


def input_layout(c: Compiled) -> tuple[int, tuple | None, float]:
    """``(channels, shape, dt_ms)`` of the input ``c`` expects: channels in all, the input's
    shape (None when there are several inputs, or for a Xylo config: a flat channel vector)
    and the time step in ms."""
    if c.graph is not None:
        g = c.graph
        ins = g.graph["inputs"]
        return (sum(size(g.nodes[n]["shape"]) for n in ins),
                tuple(g.nodes[ins[0]]["shape"]) if len(ins) == 1 else None,
                float(g.graph.get("dt", 1e-3)) * 1e3)
    cfg = c.artifact
    if c.target == "xylo":
        return cfg.shape[0], None, cfg.dt * 1e3
    shapes = list(cfg.inputs.values())
    return (int(sum(np.prod(s) for s in shapes)), tuple(shapes[0]) if len(shapes) == 1 else None,
            cfg.dt * 1e3)


def write(path, target: str, out_dir, mapping: dict | None = None,
          options: ReadOptions = ReadOptions()) -> dict:
    """Compile the network file at ``path`` (HDF5, or NIR read with ``options``) for ``target``
    (``lava`` | ``loihi`` | ``xylo``) into ``out_dir``; returns the report (``snnpipe compile``).

    Writes ``report.txt`` (and ``config.json`` + ``config.npz`` for loihi/xylo, ``net.h5`` +
    ``manifest.json`` for lava). Every check runs before anything is written; ``mapping``
    (the mapper's options) is saved as ``mapping.json``.
    """
    g = load_graph(path, options)
    out = Path(out_dir)
    mapping = dict(mapping or {})
    if target == "lava":
        report, text = _lava_bundle(g, Path(path), out)
    elif target == "loihi":
        c = compile(g, "loihi", **mapping)
        rep = resource_report(c.artifact)
        save_loihi(c.artifact, out)
        report, text = {"resources": rep, "quantisation": c.artifact.quant}, report_text(rep)
    elif target == "xylo":
        c = compile(g, "xylo", **mapping)
        rep = xylo_resource_report(c.artifact, mapping.get("limits", XYLO_AUDIO2))
        c.artifact.save(out)
        report = {"resources": rep, "latency_steps": c.report.latency_steps, "t_offset": -1}
        text = xylo_report_text(rep) + "\n\nquantisation:\n" + str(c.report)
    else:
        raise SnnpipeError("unknown deployment target", field="target", expected=DEPLOY_TARGETS,
                           found=target)
    if not mapping and (out / "mapping.json").exists():
        (out / "mapping.json").unlink()             # from an earlier compile with options
    if mapping:
        write_text_atomic(out / "mapping.json", json.dumps(
            {"target": target, **{k: asdict(v) if is_dataclass(v) else v
                                  for k, v in mapping.items()}}, indent=1))
    write_text_atomic(out / "report.txt", text + "\n")
    return report


def _lava_bundle(g, src: Path, out: Path) -> tuple[dict, str]:
    from snnpipe.processes.compile import compile as lava_compile

    net = lava_compile(g, "fixed")               # everything Lava cannot express fails here
    manifest = {"format": BUNDLE_FORMAT, "version": 1, "network": "net.h5",
                "inputs": {n: list(g.nodes[n]["shape"]) for n in g.graph["inputs"]},
                "outputs": list(g.graph["outputs"]),
                "latency": {k: int(v) for k, v in net.latency.items()},
                "processes": {n: type(p).__name__ for n, p in net.populations.items()},
                "synapses": {n: type(p).__name__ for n, p in net.synapses.items()}}
    if is_nir(src):                              # the bundle holds our HDF5 of the import
        export_hdf5(g, out / "net.h5")
    else:
        write_bytes_atomic(out / "net.h5", src.read_bytes())
    write_text_atomic(out / "manifest.json", json.dumps(manifest, indent=1))
    lines = [f"Lava bundle of {src.name}: {len(net.populations)} populations, "
             f"{len(net.synapses)} synapse processes"]
    lines += [f"  {n:<16} {cls}" for n, cls in manifest["processes"].items()]
    lines += [f"  {n:<16} {cls}" for n, cls in manifest["synapses"].items()]
    lines += [f"latency to {o}: {manifest['latency'].get(o, 0)} steps" for o in manifest["outputs"]]
    return manifest, "\n".join(lines)
