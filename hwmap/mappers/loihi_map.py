"""The Loihi-style mapper: Graph -> LoihiConfig placed on cores and chips, with a resource report.

Placement: each population is cut into consecutive neuron slices, one slice per core (a core
holds one population's slice and the incoming synapses of its neurons), each slice as large as
the neuron limit and the synapse memory allow. Cores are numbered in population order, chip =
core // cores_per_chip.

Synapse memory cost of a core (bits), for each projection into its slice:
- dense / identity: ``min(dense, sparse)`` where ``dense = rows * axons * (w + d)`` stores every
  synapse of the connected source neurons (``axons``) and ``sparse = nnz * (w + d + index_bits)``
  stores the non-zero ones with an index; plus ``axons * axon_bits`` of routing tables;
- conv: the kernel once (``size * 8`` bits) plus ``axons * axon_bits``;
- conv_transpose: the dense projection of its matrix (snnpipe.pipeline.ir.transpose);
with ``w`` the projection's ``num_weight_bits`` and ``d = delay_bits`` when it has delays.
"""
from __future__ import annotations

import numpy as np

from snnpipe.hwmap.targets.loihi import LoihiLimits
from snnpipe.hwmap.mappers.loihi_config import LoihiConfig
from snnpipe.hwmap.mappers.loihi_conv import conv_connectivity
from snnpipe.hwmap.mappers.loihi_quant import quantize
from snnpipe.hwmap.targets.loihi_rules import check
from snnpipe.hwmap.targets.loihi_weights import effective_weights, sign_mode
from snnpipe.pipeline.ir.errors import CapacityError
from snnpipe.pipeline.ir.transpose import as_dense

def effective(q) -> np.ndarray:
    """The integer weights (1/64 units, before ``weight_exp``) Lava applies for projection ``q``.

    Dense and identity (a diagonal Dense, whose off-diagonal zeros count for the sign mode):
    :func:`effective_weights`; conv: the weights as they are (Lava's Conv does not truncate).
    """
    if q.op == "conv":
        return np.asarray(q.weight, np.int64)
    mode = sign_mode(q.weight, implicit_zero=q.op == "identity" and np.size(q.weight) > 1)
    return effective_weights(q.weight, q.num_weight_bits, mode)


def connectivity(cfg: LoihiConfig, q):
    """Bool (N_dst, N_src): which synapses of projection ``q`` exist (non-zero weights); a
    scipy sparse matrix for a conv or an identity (use :func:`used_columns` and
    :func:`column_sums`)."""
    n_dst, n_src = cfg.population(q.dst).size, cfg.node_size(q.src)
    if q.op == "dense":
        return effective(q) != 0
    if q.op == "identity":
        from scipy.sparse import csr_matrix

        i = np.flatnonzero(np.broadcast_to(effective(q) != 0, (min(n_dst, n_src),)))
        return csr_matrix((np.ones(i.size, bool), (i, i)), shape=(n_dst, n_src))
    return conv_connectivity(cfg.node_shape(q.src), q.weight, q.conv)


def used_columns(m) -> int:
    """How many source neurons (columns) of a connectivity block have a synapse."""
    if isinstance(m, np.ndarray):
        return int(m.any(axis=0).sum())
    return int(np.count_nonzero(m.getnnz(axis=0)))


def column_sums(m, axis: int = 0) -> np.ndarray:
    """Synapses per column (``axis`` 0) or per row (1) of a connectivity block, int64 1-d."""
    return np.asarray(m.sum(axis=axis), np.int64).ravel()


def slice_cost(cfg, q, mask: np.ndarray, a: int, b: int, limits: LoihiLimits) -> tuple[int, int, int]:
    """(synapses, memory bits, axons) of projection ``q`` into dst neurons ``a:b``."""
    rows = mask[a:b]
    nnz = int(rows.sum())
    axons = used_columns(rows)
    d = limits.delay_bits if q.max_delay > 0 else 0
    if q.op == "conv":
        return nnz, int(np.size(q.weight)) * 8 + axons * limits.axon_bits, axons
    w = q.num_weight_bits
    dense = (b - a) * axons * (w + d)
    sparse = nnz * (w + d + limits.index_bits)
    return nnz, min(dense, sparse) + axons * limits.axon_bits, axons


def _slice_fits(cfg, incoming, a, b, limits) -> tuple[bool, int, int]:
    syn = bits = 0
    for q, mask in incoming:
        s, m, _ = slice_cost(cfg, q, mask, a, b, limits)
        syn, bits = syn + s, bits + m
    return bits <= limits.synapse_memory_bytes * 8, syn, bits


def partition(cfg: LoihiConfig, limits: LoihiLimits, masks: list) -> list:
    """Cut every population into cores. Returns one dict per core.

    Raises:
        CapacityError: when one neuron's synapses exceed a core, or the cores exceed the chips.
    """
    cores = []
    max_cores = limits.cores_per_chip * limits.max_chips
    for p in cfg.populations:
        incoming = [(q, m) for q, m in zip(cfg.projections, masks) if q.dst == p.name]
        a = 0
        while a < p.size:
            lo, hi = a + 1, min(p.size, a + limits.neurons_per_core)
            ok, _, bits = _slice_fits(cfg, incoming, a, lo, limits)
            if not ok:
                raise CapacityError("the synapses of one neuron exceed a core's synapse memory",
                                    where=p.name, field="synapse_memory_bytes",
                                    expected=f"<= {limits.synapse_memory_bytes} bytes",
                                    found=f"{(bits + 7) // 8} bytes")
            while lo < hi:  # largest b in [lo, hi] that fits
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if _slice_fits(cfg, incoming, a, mid, limits)[0] else (lo, mid - 1)
            _, syn, bits = _slice_fits(cfg, incoming, a, lo, limits)
            if len(cores) >= max_cores:
                raise CapacityError("the network needs more cores than the chips have",
                                    where=p.name, field="cores",
                                    expected=f"<= {max_cores} cores ({limits.max_chips} chip(s) x "
                                             f"{limits.cores_per_chip})",
                                    found=f"{len(cores) + _cores_left(cfg, p, lo, limits)} cores")
            cores.append({"core": len(cores), "chip": len(cores) // limits.cores_per_chip,
                          "pop": p.name, "start": a, "stop": lo, "synapses": syn,
                          "memory_bits": bits})
            a = lo
    return cores


def _cores_left(cfg, p, stop, limits) -> int:
    """A lower bound on the cores still needed (neuron limit only), for the error message."""
    after = cfg.populations[[q.name for q in cfg.populations].index(p.name) + 1:]
    left = p.size - stop + sum(q.size for q in after)
    return 1 + -(-max(left, 0) // limits.neurons_per_core)


def routes(cfg: LoihiConfig, cores: list, masks: list) -> list:
    """One dict per (source core or input, destination core, projection) with synapses.

    ``src`` is a core number or ``"input:<name>"``; ``axons`` counts source neurons that reach
    the destination core (each of their spikes is one message to it).
    """
    by_pop = {}
    for c in cores:
        by_pop.setdefault(c["pop"], []).append(c)
    out = []
    for i, (q, m) in enumerate(zip(cfg.projections, masks)):
        srcs = by_pop.get(q.src) or [{"core": f"input:{q.src}", "start": 0,
                                      "stop": cfg.node_size(q.src), "chip": -1}]
        for sc in srcs:
            for dc in by_pop[q.dst]:
                ax = used_columns(m[dc["start"]:dc["stop"], sc["start"]:sc["stop"]])
                if ax:
                    out.append({"projection": i, "src": sc["core"], "dst": dc["core"],
                                "axons": ax, "inter_chip": sc["chip"] not in (-1, dc["chip"])})
    return out


def place(cfg: LoihiConfig, limits: LoihiLimits = LoihiLimits()) -> LoihiConfig:
    """Fill ``cfg.cores``, ``cfg.routes`` and ``cfg.limits`` in place; returns ``cfg``."""
    masks = [connectivity(cfg, q) for q in cfg.projections]
    cfg.cores = partition(cfg, limits, masks)
    cfg.routes = routes(cfg, cfg.cores, masks)
    cfg.limits = {k: getattr(limits, k) for k in limits.__dataclass_fields__}
    return cfg


def map_graph(g, limits: LoihiLimits = LoihiLimits(), input_message_bits: int = 8) -> LoihiConfig:
    """Float Graph -> placed :class:`LoihiConfig`: design rules, quantiser (its report in
    ``config.quant``), partition into cores and chips, routes.

    ``input_message_bits`` > 0 makes projections from inputs graded (counts multiply weights);
    0 makes them binary (any non-zero count is one event), as Lava's Dense.

    Raises:
        GraphError, QuantizationError, CapacityError: from the design rules and the partition.
    """
    g = as_dense(g)                 # no transposed convolution on the chip: dense synapses
    check(g, limits)
    params, report = quantize(g, limits, input_message_bits)
    inputs = {n: tuple(g.nodes[n]["shape"]) for n in g.graph["inputs"]}
    cfg = LoihiConfig(g.graph.get("name", "net"), float(g.graph.get("dt", 1e-3)), inputs,
                      params["populations"], params["projections"], list(g.graph["outputs"]),
                      quant=report.to_dict())
    return place(cfg, limits)


def resource_report(cfg: LoihiConfig) -> dict:
    """Per core neurons, synapses, memory and utilisation; totals; largest fan-in and fan-out."""
    lim = cfg.limits or {k: getattr(LoihiLimits(), k) for k in LoihiLimits.__dataclass_fields__}
    mem = lim["synapse_memory_bytes"] * 8
    rows = [dict(c, neurons=c["stop"] - c["start"],
                 memory_util=c["memory_bits"] / mem,
                 neuron_util=(c["stop"] - c["start"]) / lim["neurons_per_core"]) for c in cfg.cores]
    masks = [connectivity(cfg, q) for q in cfg.projections]
    fan_in, fan_out = {}, {}
    for q, m in zip(cfg.projections, masks):
        fan_in[q.dst] = fan_in.get(q.dst, 0) + column_sums(m, 1)
        fan_out[q.src] = fan_out.get(q.src, 0) + column_sums(m, 0)
    best_in = max(((int(np.max(v)), k) for k, v in fan_in.items()), default=(0, None))
    best_out = max(((int(np.max(v)), k) for k, v in fan_out.items()), default=(0, None))
    return {"name": cfg.name, "cores": rows,
            "totals": {"chips": 1 + max((c["chip"] for c in cfg.cores), default=0),
                       "cores": len(cfg.cores), "neurons": sum(r["neurons"] for r in rows),
                       "synapses": sum(c["synapses"] for c in cfg.cores),
                       "memory_bytes": sum(c["memory_bits"] for c in cfg.cores) // 8,
                       "routes": len(cfg.routes),
                       "inter_chip_routes": sum(r["inter_chip"] for r in cfg.routes)},
            "max_fan_in": {"node": best_in[1], "synapses": best_in[0]},
            "max_fan_out": {"node": best_out[1], "synapses": best_out[0]}}


def report_text(rep: dict) -> str:
    """The resource report as text, in the manner of Lava's mapper log."""
    lines = [f"Loihi-style mapping of {rep['name']!r}",
             f"{'core':>5} {'chip':>4} {'population':<16} {'neurons':>8} {'synapses':>9} "
             f"{'memory KiB':>10} {'mem %':>6} {'neur %':>6}"]
    for r in rep["cores"]:
        lines.append(f"{r['core']:>5} {r['chip']:>4} {r['pop']:<16} {r['neurons']:>8} "
                     f"{r['synapses']:>9} {r['memory_bits'] / 8192:>10.2f} "
                     f"{100 * r['memory_util']:>6.1f} {100 * r['neuron_util']:>6.1f}")
    t = rep["totals"]
    lines.append(f"total: {t['chips']} chip(s), {t['cores']} cores, {t['neurons']} neurons, "
                 f"{t['synapses']} synapses, {t['memory_bytes'] / 1024:.2f} KiB synapse memory, "
                 f"{t['routes']} routes ({t['inter_chip_routes']} between chips)")
    lines.append(f"largest fan-in: {rep['max_fan_in']['synapses']} synapses per neuron "
                 f"({rep['max_fan_in']['node']}); largest fan-out: "
                 f"{rep['max_fan_out']['synapses']} ({rep['max_fan_out']['node']})")
    return "\n".join(lines)

