"""Which framework wrote a NIR file: from its metadata, else from patterns its exporter leaves.

NIR files do not name their writer (only ours do, ``metadata["producer"]``); each exporter
still leaves marks, measured on the exports of the frameworks themselves:

* Rockpool names its nodes ``<i>_<Module>`` (``0_LinearTorch``, ``1_LIFTorch``, ...);
* snnTorch writes every time constant as ``1e-4 / (1 - beta)`` and ``r = tau / 1e-4`` (and
  ``w_in = tau_syn / 1e-4``), so ``tau / r`` is 1e-4 in every neuron;
* Sinabs writes ``r = 1`` with taus in steps (>= 1), IF parameters of the layer's full shape,
  SumPool2d, and no CubaLIF;
* Norse writes ``r = 1`` (and ``w_in = 1``) with taus multiplied by its export dt (1e-3), so
  every tau is at most 1e-4 s for any time constant up to 100 ms; its IF parameters are one
  value.

Anything else is undetected (:func:`detect` returns None) and is read as ``exact`` NIR.
"""
from __future__ import annotations

import re

import nir
import numpy as np

from snnpipe.pipeline.formats.nir_chain import as_array

ROCKPOOL_NAME = re.compile(r"(^|\.)\d+_(LIFTorch|LinearTorch|ExpSynTorch|LIFNeuronTorch)$")


def metadata(graph) -> dict:
    meta = graph.metadata if isinstance(graph.metadata, dict) else {}
    return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in meta.items()}


def _a(x) -> np.ndarray:
    return as_array(x).reshape(-1)


def _tau(node) -> np.ndarray | None:
    for name in ("tau_mem", "tau"):
        if getattr(node, name, None) is not None:
            return _a(getattr(node, name))
    return None


def _snntorch(neurons: list) -> bool:
    timed = [n for n in neurons if _tau(n) is not None]
    if not timed:
        return False
    for n in timed:
        if not np.allclose(_tau(n) / _a(n.r), 1e-4, rtol=1e-4, atol=0):
            return False
        if isinstance(n, nir.CubaLIF) and not np.allclose(_a(n.tau_syn) / _a(n.w_in), 1e-4,
                                                          rtol=1e-4, atol=0):
            return False
    return True


def detect(flat_nodes: dict, graph) -> tuple[str | None, str]:
    """``(producer, reason)`` for a NIR graph (``flat_nodes``: its nodes with subgraphs
    inlined); ``(None, reason)`` when no pattern fits."""
    meta = metadata(graph)
    if meta.get("producer"):
        return str(meta["producer"]), f"metadata producer = {meta['producer']!r}"
    if any(ROCKPOOL_NAME.search(name) for name in flat_nodes):
        return "rockpool", "node names <i>_<Module>Torch"
    neurons = [n for n in flat_nodes.values()
               if isinstance(n, (nir.IF, nir.I, nir.LI, nir.LIF, nir.CubaLI, nir.CubaLIF))]
    if _snntorch(neurons):
        return "snntorch", "tau / r = 1e-4 in every neuron (beta written as 1e-4 / (1 - beta))"
    if not neurons or any(not np.all(_a(getattr(n, "r", 1.0)) == 1) for n in neurons):
        return None, "no known exporter's pattern"
    taus = np.concatenate([_tau(n) for n in neurons if _tau(n) is not None] or [np.zeros(0)])
    cuba = any(isinstance(n, (nir.CubaLIF, nir.CubaLI)) for n in neurons)
    if_full = [n for n in neurons if isinstance(n, nir.IF) and _a(n.v_threshold).size > 1]
    pools = any(isinstance(n, nir.SumPool2d) for n in flat_nodes.values())
    if not cuba and (taus.size == 0 or taus.min() >= 1) and (if_full or pools or taus.size):
        return "sinabs", "r = 1, taus in steps (>= 1) or full-shape IF parameters, no CubaLIF"
    if taus.size and taus.max() <= 1e-4 and not if_full:
        return "norse", "r = 1 with taus <= 1e-4 (Norse writes tau = 1e-3 / tau_inv)"
    if not taus.size and not if_full and not pools:
        return "norse", "IF with r = 1 and one threshold (Norse's IAFCell)"
    return None, "no known exporter's pattern"


def metadata_dt(graph) -> float | None:
    """The time step a file states in its metadata (ours write ``dt``), if any."""
    dt = metadata(graph).get("dt")
    try:
        return float(np.asarray(dt).reshape(-1)[0]) if dt is not None else None
    except (TypeError, ValueError, IndexError):
        return None
