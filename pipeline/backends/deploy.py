"""Compile a network file for a target and simulate it on one backend (``snnpipe compile`` and
``snnpipe simulate``).

Targets: ``lava`` (a bundle that reruns on Lava: the HDF5 file and a manifest), ``loihi`` and
``xylo`` (``config.json`` + ``.npz`` and ``report.txt``). Backends: ``lava-fixed`` and
``lava-float`` run an HDF5 file (or a lava bundle) on Lava's CPU simulator; ``intsim`` runs a
hardware config on the target's integer simulator.

Timing: ``output[..., t]`` is what the backend emits at its step t. Lava and the Loihi-style
simulator add one step per projection, as SLAYER-style blocks do, so their ``t_offset`` is 0;
on Xylo an input event reaches the membrane in the same step, so the outputs come one step
earlier than in the torch model: ``t_offset = -1``.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path

import numpy as np

from snnpipe.pipeline.ir.atomic import write_bytes_atomic, write_text_atomic
from snnpipe.pipeline.ir.errors import FormatError

TARGETS = ("lava", "loihi", "xylo")
BACKENDS = ("lava-fixed", "lava-float", "intsim")
BUNDLE_FORMAT = "snnpipe-lava-bundle"
XYLO_T_OFFSET = -1


@dataclass
class Simulation:
    """What one backend produced: ``output`` int64 (B, N, T), ``t_offset`` steps, ``states``
    ``"<node>/<variable>"`` -> (B, ..., T)."""

    output: np.ndarray
    t_offset: int
    backend: str
    states: dict = field(default_factory=dict)


def compile_network(path, target: str, out_dir, mapping: dict | None = None) -> dict:
    """Compile the HDF5 network at ``path`` for ``target`` into ``out_dir``; returns the report.

    Writes ``report.txt`` (and ``config.json`` + ``config.npz`` for loihi/xylo, ``net.h5`` +
    ``manifest.json`` for lava). Every check runs before anything is written. ``mapping``:
    keyword arguments of the target's mapper (e.g. xylo ``limits``, ``state_headroom``); when
    given they are saved as ``mapping.json`` (:func:`load_mapping`) so that the deployment can
    be re-verified the same way.
    """
    from snnpipe.pipeline.formats.hdf5 import load

    g = load(path)
    out = Path(out_dir)
    mapping = dict(mapping or {})
    if target == "lava":
        report, text = _lava_bundle(g, Path(path), out)
    elif target == "loihi":
        report, text = _loihi(g, out, mapping)
    elif target == "xylo":
        report, text = _xylo(g, out, mapping)
    else:
        raise ValueError(f"target must be one of {TARGETS}, found {target!r}")
    if not mapping and (out / "mapping.json").exists():
        (out / "mapping.json").unlink()             # from an earlier compile with options
    if mapping:
        write_text_atomic(out / "mapping.json", json.dumps(
            {"target": target, **{k: asdict(v) if is_dataclass(v) else v
                                  for k, v in mapping.items()}}, indent=1))
    write_text_atomic(out / "report.txt", text + "\n")
    return report


def load_mapping(out_dir) -> dict:
    """The mapper keyword arguments saved by :func:`compile_network` in ``out_dir`` ({} when
    none), with ``limits`` as the target's limits dataclass."""
    path = Path(out_dir) / "mapping.json"
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text())
        target = doc.pop("target")
        if "limits" in doc:
            if target == "xylo":
                from snnpipe.hwmap.targets.xylo import XyloLimits as Limits
            else:
                from snnpipe.hwmap.targets.loihi import LoihiLimits as Limits
            doc["limits"] = Limits(**doc["limits"])
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise FormatError(f"not a mapping file ({e})", file=path) from None
    return doc


def _lava_bundle(g, src: Path, out: Path) -> tuple[dict, str]:
    from snnpipe.processes.compile import compile as lava_compile

    net = lava_compile(g, "fixed")               # everything Lava cannot express fails here
    manifest = {"format": BUNDLE_FORMAT, "version": 1, "network": "net.h5",
                "inputs": {n: list(g.nodes[n]["shape"]) for n in g.graph["inputs"]},
                "outputs": list(g.graph["outputs"]),
                "latency": {k: int(v) for k, v in net.latency.items()},
                "processes": {n: type(p).__name__ for n, p in net.populations.items()},
                "synapses": {n: type(p).__name__ for n, p in net.synapses.items()}}
    write_bytes_atomic(out / "net.h5", src.read_bytes())
    write_text_atomic(out / "manifest.json", json.dumps(manifest, indent=1))
    lines = [f"Lava bundle of {src.name}: {len(net.populations)} populations, "
             f"{len(net.synapses)} synapse processes"]
    lines += [f"  {n:<16} {cls}" for n, cls in manifest["processes"].items()]
    lines += [f"  {n:<16} {cls}" for n, cls in manifest["synapses"].items()]
    lines += [f"latency to {o}: {manifest['latency'].get(o, 0)} steps" for o in manifest["outputs"]]
    return manifest, "\n".join(lines)


def _loihi(g, out: Path, mapping: dict) -> tuple[dict, str]:
    from snnpipe.hwmap.mappers.loihi_map import map_graph, report_text, resource_report
    from snnpipe.hwmap.mappers.loihi_config import save

    cfg = map_graph(g, **mapping)
    rep = resource_report(cfg)
    save(cfg, out)
    return {"resources": rep, "quantisation": cfg.quant}, report_text(rep)


def _xylo(g, out: Path, mapping: dict) -> tuple[dict, str]:
    from snnpipe.hwmap.targets.xylo import XYLO_AUDIO2
    from snnpipe.hwmap.mappers.xylo_map import quantize_and_map
    from snnpipe.hwmap.mappers.xylo_report import report_text, resource_report

    cfg, quant = quantize_and_map(g, **mapping)
    rep = resource_report(cfg, mapping.get("limits", XYLO_AUDIO2))
    cfg.save(out)
    return ({"resources": rep, "latency_steps": quant.latency_steps, "t_offset": XYLO_T_OFFSET},
            report_text(rep) + "\n\nquantisation:\n" + str(quant))


def config_target(path) -> str:
    """The target named in a ``config.json`` (or a directory holding one)."""
    from snnpipe.hwmap.mappers.configio import load_config

    target, _ = load_config(path)
    return target


def simulate(path, backend: str, raster: np.ndarray, record: bool = False,
             progress: bool = True) -> Simulation:
    """Run ``raster`` (B, C, T) integer counts through ``path`` on ``backend``.

    ``path``: an HDF5 network or a lava bundle directory for ``lava-*``; a ``config.json`` (or
    its directory) for ``intsim``.
    """
    path = Path(path)
    if backend in ("lava-fixed", "lava-float"):
        return _simulate_lava(_network_file(path), backend, raster, record, progress)
    if backend == "intsim":
        target = config_target(path)
        if target == "loihi":
            return _simulate_loihi(path, raster, record)
        if target == "xylo":
            return _simulate_xylo(path, raster, record)
        raise FormatError("config of an unknown target", file=path, field="target",
                          expected="loihi | xylo", found=target)
    raise ValueError(f"backend must be one of {BACKENDS}, found {backend!r}")


def _network_file(path: Path) -> Path:
    if path.is_dir():
        manifest = path / "manifest.json"
        try:
            doc = json.loads(manifest.read_text())
        except (FileNotFoundError, json.JSONDecodeError) as e:
            raise FormatError(f"not a lava bundle ({e})", file=manifest) from None
        if doc.get("format") != BUNDLE_FORMAT:
            raise FormatError("not a lava bundle", file=manifest, field="format",
                              expected=BUNDLE_FORMAT, found=doc.get("format"))
        return path / doc["network"]
    return path


def input_layout(path, backend: str) -> tuple[int, tuple | None, float]:
    """``(channels, shape, dt_ms)`` of the input the network at ``path`` expects on
    ``backend``: channels in all, the input's shape (None when there are several inputs, or
    for a Xylo config: a flat channel vector) and the time step in ms."""
    path = Path(path)
    if backend == "intsim":
        from snnpipe.hwmap.mappers.configio import load_config

        target, fields = load_config(path)
        if target == "xylo":
            return (int(np.asarray(fields["weights_in"]).shape[0]), None,
                    float(fields.get("dt", 1e-3)) * 1e3)
        from snnpipe.hwmap.mappers.loihi_config import load

        cfg = load(path)
        shapes = list(cfg.inputs.values())
        return (int(sum(np.prod(s) for s in shapes)), tuple(shapes[0]) if len(shapes) == 1 else None,
                cfg.dt * 1e3)
    from snnpipe.pipeline.ir.graph import size
    from snnpipe.pipeline.formats.hdf5 import load

    g = load(_network_file(path))
    ins = g.graph["inputs"]
    return (sum(size(g.nodes[n]["shape"]) for n in ins),
            tuple(g.nodes[ins[0]]["shape"]) if len(ins) == 1 else None,
            float(g.graph.get("dt", 1e-3)) * 1e3)


def input_width(path, backend: str) -> int:
    """Number of input channels the network at ``path`` expects on ``backend``."""
    return input_layout(path, backend)[0]


def _simulate_lava(path: Path, backend: str, raster, record: bool, progress: bool) -> Simulation:
    from snnpipe.pipeline.formats.hdf5 import load
    from snnpipe.processes.compile import compile as lava_compile
    from snnpipe.processes.run import run

    g = load(path)
    precision = "fixed" if backend == "lava-fixed" else "float"
    neurons = [n for n, d in g.nodes(data=True) if d["kind"] == "neuron"]
    probes = [f"{n}/{v}" for n in neurons for v in ("u", "v")] if record else ()
    rec = run(lava_compile(g, precision), raster, probes=probes, progress=progress)
    first = g.graph["outputs"][0]
    t = raster.shape[-1]
    states = {k: np.asarray(v)[..., :t] for k, v in rec.states.items()}
    return Simulation(np.asarray(rec.raw[first])[..., :t], 0, backend, states)


def _simulate_loihi(path: Path, raster, record: bool) -> Simulation:
    from snnpipe.hwmap.intsim.loihi import simulate as loihi_simulate
    from snnpipe.hwmap.mappers.loihi_config import load

    cfg = load(path)
    first = cfg.outputs[0]
    is_li = cfg.population(first).model == "li"          # a readout's output is its v
    wanted = ("spikes", "u", "v") if record else ("spikes",) + ((f"{first}/v",) if is_li else ())
    res = loihi_simulate(cfg, raster, record=wanted)
    output = res.states[f"{first}/v"] if is_li else res.spikes[first]
    states = dict(res.states)
    if record:
        states.update({f"{p}/spikes": s for p, s in res.spikes.items()})
    return Simulation(np.asarray(output, dtype=np.int64), 0, "intsim", states)


def _simulate_xylo(path: Path, raster, record: bool) -> Simulation:
    from snnpipe.hwmap.intsim.xylo import simulate as xylo_simulate
    from snnpipe.hwmap.mappers.xylo_config import XyloConfig
    from snnpipe.hwmap.targets.xylo import STATE_MAX

    cfg = XyloConfig.load(path)
    # li readouts are output neurons whose threshold is the largest state: they never fire,
    # and their output is Vmem_out.
    readout = bool(np.all(np.asarray(cfg.threshold_out) >= STATE_MAX))
    res = xylo_simulate(cfg, raster, record=record or readout)
    output = res.states["Vmem_out"] if readout else res.spikes_out
    names = {"Vmem": "hidden/v", "Isyn": "hidden/isyn", "Isyn2": "hidden/isyn2",
             "Vmem_out": "output/v", "Isyn_out": "output/isyn"}
    states = {names.get(k, k): np.asarray(v) for k, v in res.states.items()}
    if record and res.spikes is not None:
        states["hidden/spikes"] = np.asarray(res.spikes)
    if not record:
        states = {}
    return Simulation(np.asarray(output, dtype=np.int64), XYLO_T_OFFSET, "intsim", states)
