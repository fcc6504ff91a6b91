"""lava-dl netx's resonate-and-fire layers (RF phase, RF_IZ) in the netx HDF5 layout, both ways.

slayer's ``block.rf.Dense`` / ``block.rf_iz.Dense`` write a ``dense`` layer with complex
weights, ``weight/real`` and ``weight/imag`` (out, in) in 1/64 units, and ``neuron/*``:
``type`` ("RF_PHASE" or "RF_IZHIKEVICH"), ``sinDecay``, ``cosDecay`` (12-bit integers,
``(1 - decay) sin|cos(2 pi / period)`` in 1/4096), ``vThMant`` (1/64), ``gradedSpike``.
netx 0.6.0 reads them so, and these rules are the specification (each was checked by running
netx):

- a neuron type containing "RF" is Lava's ``RF`` when it contains "PHASE", else ``RF_IZ``;
  netx turns ``sinDecay``/``cosDecay`` into ``period`` and ``decay`` with slayer's
  ``neuron_params`` and Lava's ``RF`` turns them back, truncating: the decays it runs may be
  one below the file's (:func:`snnpipe.hwmap.targets.loihi.rf_decays_to_int`);
  ``state_exp`` 6, ``decay_bits`` 12, ``vth = vThMant << 6``; spikes are binary whatever
  ``gradedSpike`` says (we refuse ``gradedSpike`` true);
- a ``dense`` layer with ``weight/imag`` is netx's ``ComplexDense``: the real weights feed
  Lava's ``a_real_in``, the imaginary ones ``a_imag_in``; it ignores ``bias``, ``delay`` and
  ``weight_rec`` (we refuse them). RF neurons in an ``input`` or ``conv`` layer, or behind a
  plain ``weight``, do not load (netx connects ``a_in``, which RF has not); neither do
  complex weights into another neuron;
- ``vThMant`` must be one value (Lava's RF computes ``int(vth * 64)``); the decays may be per
  neuron.

In the Graph an RF layer is an ``rf`` node (:func:`snnpipe.pipeline.ir.graph.add_rf`) with
netx's ``period`` and ``decay`` (so that the target's integers are the ones netx runs),
``threshold = vThMant / 64``, fed by two dense edges (``syn`` 0 real, 1 imaginary).
"""
from __future__ import annotations

import h5py
import numpy as np

from snnpipe.hwmap.targets import loihi
from snnpipe.pipeline.formats.h5util import fail, group, read_array, read_str
from snnpipe.pipeline.ir import graph as G

TYPES = {"phase": "RF_PHASE", "izhikevich": "RF_IZHIKEVICH"}


def is_rf_type(kind: str) -> bool:
    """netx's test for an RF neuron type."""
    return "RF" in kind


def _neuron_type(lay: h5py.Group, file, where) -> str:
    if "neuron" not in lay:
        return ""
    return read_str(group(lay, "neuron", file, where), "type", file, where + "/neuron")


def is_rf_layer(lay: h5py.Group, file, where) -> bool:
    """Whether the layer's neuron is RF or its weights complex (``weight/`` is a group)."""
    return is_rf_type(_neuron_type(lay, file, where)) or isinstance(lay.get("weight"), h5py.Group)


def refuse_layer(kind: str, file, where) -> None:
    """An RF neuron in a layer netx does not build it in (``input``, ``conv``)."""
    raise fail(file, where, "neuron/type", f"RF neurons in a netx {kind} layer do not load (netx "
               "connects the neuron's a_in, which Lava's RF has not)", "RF in a dense layer")


def read_neuron(nrn: h5py.Group, n: int, file, where: str) -> dict:
    """:func:`add_rf` keyword arguments (all but ``shape``) of the RF ``neuron/`` group at
    ``where`` of a layer of ``n`` neurons."""
    kind = read_str(nrn, "type", file, where)
    per = {(), (1,), (n,)}
    sin, cos = (read_array(nrn, k, file, where, "int", per) for k in ("sinDecay", "cosDecay"))
    if np.min(sin) < 1:
        raise fail(file, where, "sinDecay", "an RF sinDecay below 1 has no finite positive "
                   "period (slayer clamps it to >= 1)", ">= 1", int(np.min(sin)))
    vth = read_array(nrn, "vThMant", file, where, "int", per)
    if vth.size != 1:
        raise fail(file, where, "vThMant", "a per-neuron RF threshold does not load in netx "
                   "(Lava's RF computes int(vth * 64))", "one value", vth.shape)
    if "gradedSpike" in nrn and bool(np.any(read_array(nrn, "gradedSpike", file, where, "bool"))):
        raise fail(file, where, "gradedSpike", "netx runs RF neurons with binary spikes: the "
                   "graded RF spikes slayer trains are lost", False, True)

    def squeeze(a):
        return a.reshape(()) if a.size == 1 else a

    period, decay = loihi.rf_decays_from_int(squeeze(sin), squeeze(cos))
    return dict(model="rf", variant="phase" if "PHASE" in kind else "izhikevich",
                period=period, decay=decay,
                threshold=float(vth.reshape(())) / loihi.WEIGHT_UNIT)


def _weight(lay, name, n_out, n_in, file, where) -> np.ndarray:
    w = read_array(lay, name, file, where, "float")
    if w.ndim == 1 and w.size == n_out * n_in:          # slayer's (n_in,) for one neuron
        w = w.reshape(n_out, -1)
    if w.shape != (n_out, n_in):
        raise fail(file, where, name, "complex dense weight does not fit the layer",
                   (n_out, n_in), w.shape)
    return w


def read_dense(g, lay: h5py.Group, node: str, prev: str, shape: tuple, rf: dict | None,
               file, where: str, rec: bool) -> str:
    """Add the RF population ``node`` of the ``dense`` layer ``lay`` (``rf``: its
    :func:`read_neuron` parameters, None for another neuron) fed by ``prev``."""
    if rf is None:
        raise fail(file, where, "weight/imag", "complex weights into a non-RF neuron do not "
                   "load in netx (its ComplexDense connects a_real_in and a_imag_in)",
                   "an RF neuron", _neuron_type(lay, file, where) or "netx's default CUBA")
    if not isinstance(lay.get("weight"), h5py.Group):
        raise fail(file, where, "weight", "an RF layer needs complex weights (netx's Dense "
                   "connects a_in, which Lava's RF has not)", "weight/real and weight/imag",
                   "one weight")
    if rec:
        raise fail(file, where, "weight_rec", "netx's ComplexDense ignores a recurrent weight",
                   "type dense", "dense_rec")
    if "bias" in lay:
        raise fail(file, where, "bias", "netx's ComplexDense ignores the bias", "no bias")
    if "delay" in lay and np.any(read_array(lay, "delay", file, where, "int")):
        raise fail(file, where, "delay", "netx's ComplexDense ignores delays", "no delay or 0")
    src = g.nodes[prev]
    if src.get("model") == "sigma_delta":
        raise fail(file, where, "type", "an RF layer fed by SDNN messages", "spikes",
                   "sigma-delta messages")
    n_in, n_out = G.size(src["shape"]), G.size(shape)
    real = _weight(lay, "weight/real", n_out, n_in, file, where)
    imag = _weight(lay, "weight/imag", n_out, n_in, file, where)
    G.add_rf(g, node, shape, **{k: v for k, v in rf.items() if k != "model"})
    G.add_dense(g, prev, node, real / loihi.WEIGHT_UNIT, syn=G.RF_REAL)
    G.add_dense(g, prev, node, imag / loihi.WEIGHT_UNIT, syn=G.RF_IMAG)
    return node


def input_width(lay: h5py.Group, file, where) -> int | None:
    """The input size of a first ``dense`` layer with complex weights, else None."""
    if not isinstance(lay.get("weight"), h5py.Group):
        return None
    w = read_array(lay, "weight/real", file, where, "float")
    return int(w.shape[1]) if w.ndim == 2 else None


# ---------------------------------------------------------------------------------- writing

def file_decays(period, decay):
    """``(sinDecay, cosDecay)`` to write so that netx builds the decays the Graph means
    (:func:`loihi.rf_decays_to_int`) after its round trip through period and decay, or None
    when no nearby integers do."""
    want = loihi.rf_decays_to_int(period, decay)
    found = [np.full(np.shape(want[0]), -1, np.int64) for _ in range(2)]
    for ds in (0, 1, -1):
        for dc in (0, 1, -1):
            s, c = want[0] + ds, want[1] + dc
            with np.errstate(divide="ignore", invalid="ignore"):
                back = loihi.rf_decays_to_int(*loihi.rf_decays_from_int(s, c))
            ok = (back[0] == want[0]) & (back[1] == want[1]) & (found[0] < 0)
            found[0], found[1] = np.where(ok, s, found[0]), np.where(ok, c, found[1])
    return None if np.any(found[0] < 0) else tuple(found)


def expressible(d: dict) -> bool:
    """An ``rf`` node netx builds as the Graph means it: one threshold, decays it can hold."""
    return (d.get("kind") == "neuron" and d.get("model") == "rf" and np.ndim(d["threshold"]) == 0
            and d.get("variant") in TYPES and np.all(np.asarray(d["period"]) > 0)
            and file_decays(d["period"], d["decay"]) is not None)


def edge_pair(edges) -> tuple | None:
    """``(real, imag)`` edge attributes of an RF population's two plain dense in-edges, or None."""
    by_syn = {e["syn"]: e for e in edges}
    if len(edges) != 2 or set(by_syn) != {G.RF_REAL, G.RF_IMAG}:
        return None
    if any(e["op"] != "dense" or np.any(np.asarray(e["delay"])) for e in edges):
        return None
    return by_syn[G.RF_REAL], by_syn[G.RF_IMAG]


def lossless(d: dict) -> bool:
    """Whether the layer we write reads back as the node: a whole netx threshold (1/64 units),
    and the very period and decay (netx's of the integers we write)."""
    th = np.asarray(d["threshold"], np.float64)
    if not np.array_equal(loihi.threshold_to_int(th) / loihi.WEIGHT_UNIT, th):
        return False
    ints = file_decays(d["period"], d["decay"])
    if ints is None:
        return False
    period, decay = loihi.rf_decays_from_int(*ints)
    return bool(np.array_equal(np.broadcast_to(d["period"], period.shape), period)
                and np.array_equal(np.broadcast_to(d["decay"], decay.shape), decay))


def write_dense(lay: h5py.Group, edge: dict, d: dict) -> None:
    """A ``dense`` layer of an :func:`expressible` node; ``edge`` is the real in-edge with the
    imaginary one under ``"imag"``, as :func:`snnpipe.pipeline.formats.netx_express.chain`
    gives it."""
    real, imag = edge["weight"], edge["imag"]["weight"]
    lay.create_dataset("type", (1,), "S10", [b"dense"])
    lay.create_dataset("shape", data=np.array(d["shape"], dtype=np.int64))
    lay.create_dataset("inFeatures", data=np.int64(real.shape[1]))
    lay.create_dataset("outFeatures", data=np.int64(real.shape[0]))
    lay.create_dataset("weight/real", data=loihi.weight_to_int(real).astype(np.float32))
    lay.create_dataset("weight/imag", data=loihi.weight_to_int(imag).astype(np.float32))
    sin, cos = file_decays(d["period"], d["decay"])
    lay.create_dataset("neuron/type", data=TYPES[d["variant"]])
    lay.create_dataset("neuron/sinDecay", data=sin)
    lay.create_dataset("neuron/cosDecay", data=cos)
    lay.create_dataset("neuron/vThMant", data=np.int64(loihi.threshold_to_int(d["threshold"])))
    lay.create_dataset("neuron/gradedSpike", data=False)
