"""Networks built in snnTorch, Norse, Sinabs and Rockpool, run there and exported to NIR by the
frameworks' own exporters: the oracles of the NIR tests (tests/pipeline/formats/test_nir_*.py).

``CASES[name](seed) -> Case``: the export, the input spikes, and what the framework emitted.
:func:`imported` reads a case back through ``read_nir`` (or ``import_nir``), :func:`ours` runs
the import on our float torch backend aligned to the framework. A framework that is not
installed skips its cases (:func:`needs`).
"""
import importlib.util
import warnings
from dataclasses import dataclass

import nir
import numpy as np
import pytest
import torch

import snnpipe
from snnpipe.hwmap.targets.loihi import MAX_SPIKES
from snnpipe.pipeline.formats.nir import import_nir, read_nir

B, T = 3, 40


@dataclass
class Case:
    graph: object            # nir.NIRGraph as the framework exported it
    x: np.ndarray            # (B, C, T) int64 input spikes
    out: np.ndarray          # (B, N, T) what the framework's output population emitted
    producer: str            # the conventions that reproduce it
    writable: bool = True    # nir.write can save the export (Sinabs' convs cannot: no input_shape)
    readout: bool = False    # out is a membrane (float), not spikes
    detected: str = ""       # what read_nir detects, when not ``producer`` (the file cannot say)


def _raster(seed: int, c: int, p: float = 0.4) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(B, c, T, generator=g) < p).float()


def _scale(net, factor: float, seed: int) -> None:
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in torch.nn.Module.named_parameters(net):
            if p.dim() >= 2:
                p.copy_(torch.randn_like(p) * factor / np.sqrt(p[0].numel()))
            elif name.split(".")[-1] == "bias" and "LIF" not in name:   # projections only
                p.copy_(torch.randn_like(p) * factor * 0.2)


# ------------------------------------------------------------------------------ snnTorch

def _snntorch(kind: str, seed: int) -> Case:
    import snntorch as snn
    from snntorch import utils
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(seed)
    f = lambda n, v: torch.full((n,), float(v))        # noqa: E731 - per-neuron parameters
    beta, th = f(10, 0.85), f(10, 0.6)
    reset = "zero" if kind == "zero" else "subtract"
    hidden = {"leaky": lambda: snn.Leaky(beta=beta, threshold=th, init_hidden=True),
              "zero": lambda: snn.Leaky(beta=beta, threshold=th, init_hidden=True,
                                        reset_mechanism="zero"),
              "synaptic": lambda: snn.Synaptic(alpha=f(10, 0.7), beta=beta, threshold=th,
                                               init_hidden=True),
              "rleaky": lambda: snn.RLeaky(beta=beta, threshold=th, linear_features=10,
                                           init_hidden=True)}[kind]()
    net = torch.nn.Sequential(torch.nn.Linear(6, 10), hidden, torch.nn.Linear(10, 4),
                              snn.Leaky(beta=f(4, 0.9), threshold=f(4, 0.5), init_hidden=True,
                                        output=True, reset_mechanism=reset))
    _scale(net, 2.0, seed)
    x = _raster(seed, 6)
    utils.reset(net)
    with torch.no_grad():
        out = torch.stack([net(x[..., t])[0] for t in range(T)], -1)
    graph = export_to_nir(net, torch.zeros(1, 6), ignore_dims=[0])
    return Case(graph, x.long().numpy(), out.numpy(),
                "snntorch-zero" if kind == "zero" else "snntorch", detected="snntorch")


# --------------------------------------------------------------------------------- Norse

def _norse(kind: str, seed: int) -> Case:
    import norse.torch as norse

    torch.manual_seed(seed)
    cell, gain = {"lif": (norse.LIFCell, 60.0), "lifbox": (norse.LIFBoxCell, 60.0),
                  "iaf": (norse.IAFCell, 2.0)}[kind]
    net = norse.SequentialState(torch.nn.Linear(6, 10), cell(), torch.nn.Linear(10, 4), cell())
    _scale(net, gain, seed)
    x = _raster(seed, 6, 0.5)
    state, spikes = None, []
    with torch.no_grad():
        for t in range(T):
            z, state = net(x[..., t], state)
            spikes.append(z)
    graph = norse.to_nir(net, torch.zeros(1, 6))
    return Case(graph, x.long().numpy(), torch.stack(spikes, -1).numpy(), "norse")


# -------------------------------------------------------------------------------- Sinabs

def _sinabs(kind: str, seed: int) -> Case:
    import sinabs
    import sinabs.layers as sl

    torch.manual_seed(seed)
    if kind == "conv":
        net = torch.nn.Sequential(
            torch.nn.Conv2d(2, 4, 3, padding=1, bias=False), sl.IAFSqueeze(batch_size=B),
            sl.SumPool2d(2), torch.nn.Conv2d(4, 6, 3, bias=False), sl.IAFSqueeze(batch_size=B),
            sl.SumPool2d(2), torch.nn.Flatten(), torch.nn.Linear(24, 5),
            sl.IAFSqueeze(batch_size=B))
        _scale(net, 1.0, seed)
        x = _raster(seed, 2 * 12 * 12, 0.3).reshape(B, 2, 12, 12, T)
        sample = torch.zeros(B, 2, 12, 12)
    else:
        neuron = {"iaf": lambda n: sl.IAFSqueeze(batch_size=B),
                  "lif": lambda n: sl.LIFSqueeze(tau_mem=torch.tensor(4.0), batch_size=B),
                  "explk": lambda n: sl.ExpLeakSqueeze(tau_mem=torch.tensor(3.0),
                                                       batch_size=B)}
        last = "explk" if kind == "lif-explk" else kind.split("-")[0]
        net = torch.nn.Sequential(torch.nn.Linear(6, 10), neuron[kind.split("-")[0]](10),
                                  torch.nn.Linear(10, 4), neuron[last](4))
        _scale(net, 2.0 if kind == "iaf" else 6.0, seed)
        x = _raster(seed, 6)
        sample = torch.zeros(B, 6)
    flat = x.permute(0, x.dim() - 1, *range(1, x.dim() - 1)).reshape(B * T, *x.shape[1:-1])
    with torch.no_grad():
        sinabs.reset_states(net)
        out = net(flat).reshape(B, T, -1).permute(0, 2, 1)
        sinabs.reset_states(net)
        graph = sinabs.to_nir(net, sample)
    x = x.reshape(B, -1, T)
    return Case(graph, x.long().numpy(), out.numpy(), "sinabs", writable=kind != "conv",
                readout=kind == "lif-explk")


# ------------------------------------------------------------------------------ Rockpool

def _rockpool(kind: str, seed: int) -> Case:
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import ExpSynTorch, LIFTorch, LinearTorch
    from rockpool.nn.modules.torch.nir import to_nir

    torch.manual_seed(seed)
    bias = kind == "lif-bias"
    last = ExpSynTorch(3, dt=1e-3, tau=0.01) if kind == "lif-explk" else \
        LIFTorch(3, dt=1e-3, tau_mem=0.03, tau_syn=0.005)
    net = Sequential(LinearTorch((6, 8), has_bias=bias),
                     LIFTorch(8, dt=1e-3, tau_mem=0.02, tau_syn=0.01),
                     LinearTorch((8, 3), has_bias=bias), last)
    _scale(net, 1.2, seed)
    x = _raster(seed, 6)
    with torch.no_grad():
        out, _, _ = net(x.permute(0, 2, 1))
    graph = to_nir(net)
    return Case(graph, x.long().numpy(), out.permute(0, 2, 1).numpy(), "rockpool",
                writable=kind != "lif-explk", readout=kind == "lif-explk")


def _quiet(build):
    def run(kind, seed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return build(kind, seed)
    return run


CASES = {f"{fw}-{kind}": (lambda seed, b=_quiet(build), k=kind: b(k, seed))
         for fw, build, kinds in [
             ("snntorch", _snntorch, ["leaky", "synaptic", "rleaky", "zero"]),
             ("norse", _norse, ["lif", "lifbox", "iaf"]),
             ("sinabs", _sinabs, ["iaf", "lif", "lif-explk", "conv"]),
             ("rockpool", _rockpool, ["lif", "lif-bias", "lif-explk"])]
         for kind in kinds}


# --------------------------------------------------------------------------------- tests

MODULES = {"snntorch": "snntorch", "norse": "norse", "sinabs": "sinabs", "rockpool": "rockpool"}


def needs(name: str):
    module = MODULES[name.split("-")[0]]
    return pytest.mark.skipif(importlib.util.find_spec(module) is None,
                              reason=f"needs {module} (the test extra)")


def imported(case: Case, tmp_path, producer=None):
    """``read_nir`` of the export written by nir.write (compression off: the frameworks write
    scalar parameters, which h5py cannot compress), or ``import_nir`` where nir cannot write
    the export."""
    if not case.writable:
        return import_nir(case.graph, producer=producer)
    path = tmp_path / "net.nir"
    nir.write(path, case.graph, compression=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # nir's type inference fails on most exports
        return read_nir(path, producer=producer)


def ours(g, info, case: Case) -> np.ndarray:
    """What our float torch backend emits at the output population, aligned to the framework."""
    out = g.graph["outputs"][0]
    k = info.offsets[out]
    x = np.concatenate([case.x, np.zeros(case.x.shape[:2] + (k,), np.int64)], -1)
    pop = snnpipe.simulate(g, x, "torch-float", record=True).pops[out]
    return (pop["v"] if case.readout else pop["spikes"])[..., k:k + T]


def differing_traces(got, want, readout: bool) -> int:
    """(sample, neuron) traces that differ; a spiking trace where the framework emits more
    than our neuron's 31 spikes in a step (MAX_SPIKES; Rockpool allows 2^16) is not counted."""
    if readout:
        return int(np.sum(~np.all(np.isclose(got, want, rtol=1e-4, atol=1e-4), axis=-1)))
    return int(np.sum(np.any(got != want, axis=-1) & ~np.any(want > MAX_SPIKES, axis=-1)))


