"""lava-dl netx's SDNN neurons (sigma-delta) in the netx HDF5 layout, both ways.

``neuron/*`` of an SDNN layer: ``type`` = "SDNN", ``vThMant`` (int, 1/64 of the float unit),
``activation`` (slayer writes the activation's name), ``sigma_output`` (slayer's Output block),
optional ``messageBits``. netx 0.6.0 (``hdf5.Network.get_neuron_params``) reads them so, and
these rules are the specification (each was checked by running netx):

- the ``input`` layer is a Delta, a layer with a ``sigma_output`` dataset (whatever its value)
  a Sigma, every other layer a SigmaDelta; ``spike_exp`` 6 (``Network(spike_exp=6)``) and
  ``state_exp`` 6 always;
- ``activation`` is ignored: every SigmaDelta is a ReLU (Lava's default ``act_mode``); Delta
  and Sigma have none;
- ``vThMant`` must be one value (Lava's Delta and SigmaDelta hold ``vth`` in a Var of shape
  (1,): a per-neuron array fails when the run starts); a Sigma ignores it;
- ``messageBits`` defaults to 16 (graded messages). A file that has the dataset does not run:
  netx passes it on as its own ``NetDict`` wrapper (the key is in none of its lists), which
  Lava cannot turn into an int. We read its value;
- a layer's ``bias`` is truncated to an integer (netx reads it ``astype(int)``) and scaled by
  ``2^(spike_exp + state_exp)``; a Sigma with a ``bias`` does not load (``Sigma`` takes no
  bias: TypeError); the ``input`` layer's ``weight``/``bias`` transform is not applied by netx
  (the netx backend drives the Delta's input through it, as for CUBA input layers).

In the Graph an SDNN layer is a ``sigma_delta`` node (:func:`snnpipe.pipeline.ir.graph.
add_sigma_delta`) with ``threshold = vThMant / 64`` and ``bias = bias / 64``.
"""
from __future__ import annotations

import h5py
import numpy as np

from snnpipe.hwmap.targets import loihi
from snnpipe.pipeline.formats.h5util import fail, read_array, read_int

TYPE = "SDNN"


def read_neuron(nrn: h5py.Group, file, where: str, *, first: bool) -> dict:
    """:func:`add_sigma_delta` keyword arguments (all but ``shape`` and ``bias``) from the SDNN
    ``neuron/`` group at ``where``; ``first``: the file's ``input`` layer."""
    stage = "delta" if first else "sigma" if "sigma_output" in nrn else "sigma_delta"
    th = 0.0
    if stage != "sigma":
        vth = read_array(nrn, "vThMant", file, where, "int", {(), (1,)})
        th = float(vth.reshape(())) / loihi.WEIGHT_UNIT
        if th < 0:
            raise fail(file, where, "vThMant", "negative SDNN threshold", ">= 0", th)
    bits = read_int(nrn, "messageBits", file, where) if "messageBits" in nrn \
        else loihi.SD_MESSAGE_BITS
    if bits < 0:
        raise fail(file, where, "messageBits", "negative message bits", ">= 0", bits)
    return dict(model="sigma_delta", stage=stage,
                activation="relu" if stage == "sigma_delta" else "none", threshold=th,
                spike_exp=loihi.SD_SPIKE_EXP, state_exp=loihi.SD_STATE_EXP, message_bits=bits)


def check_layer(params: dict, bias, prev_kind: str, file, where: str) -> None:
    """Refuse what netx loads but runs with another meaning, or does not load: a Sigma with a
    bias, and a sigma stage fed by the raw input (no ``input`` layer: netx sends it binary
    events of weight 1/64, not messages)."""
    if params["stage"] == "sigma" and np.any(bias):
        raise fail(file, where, "bias", "an SDNN sigma_output layer with a bias does not load "
                   "in netx (Lava's Sigma takes no bias)", "no bias")
    if params["stage"] != "delta" and prev_kind == "input":
        raise fail(file, where, "type", "an SDNN layer fed by the raw input (netx sends it "
                   "binary events, not messages in the SDNN's units)",
                   "an SDNN input layer first", "no input layer")


# ---------------------------------------------------------------------------------- writing

def expressible(d: dict) -> bool:
    """A ``sigma_delta`` node netx builds as written: netx's formats and activations."""
    return (d.get("kind") == "neuron" and d.get("model") == "sigma_delta"
            and d.get("spike_exp") == loihi.SD_SPIKE_EXP
            and d.get("state_exp") == loihi.SD_STATE_EXP
            and d.get("message_bits") == loihi.SD_MESSAGE_BITS
            and np.ndim(d["threshold"]) == 0
            and d.get("activation") == ("relu" if d.get("stage") == "sigma_delta" else "none")
            and not (d.get("stage") == "sigma" and (np.any(d["bias"]) or d["threshold"] != 0))
            and not (d.get("stage") == "delta" and np.ndim(d["bias"])))   # netx: int(bias)


def order_ok(nodes: list, first_is_input: bool) -> bool:
    """netx's stages follow the layer order: a Delta exactly as the input layer, a Sigma only
    last, SigmaDelta between; no SDNN chain without its input layer, no mix with CUBA."""
    sd = [d.get("model") == "sigma_delta" for d in nodes]
    if not any(sd):
        return True
    if not all(sd) or not first_is_input:
        return False
    stages = [d["stage"] for d in nodes]
    return (stages[0] == "delta" and "delta" not in stages[1:]
            and "sigma" not in stages[:-1])


def lossless(d: dict) -> bool:
    """Whether the node's threshold and bias are whole netx integers (1/64 units)."""
    th, b = np.asarray(d["threshold"], np.float64), np.asarray(d["bias"], np.float64)
    return bool(np.array_equal(loihi.threshold_to_int(th) / loihi.WEIGHT_UNIT, th)
                and np.array_equal(np.rint(b * loihi.WEIGHT_UNIT) / loihi.WEIGHT_UNIT, b))


def write_neuron(lay: h5py.Group, d: dict) -> None:
    """The ``neuron/`` group of an :func:`expressible` node, as slayer writes it."""
    lay.create_dataset("neuron/type", data=TYPE)
    lay.create_dataset("neuron/activation", data="relu")
    lay.create_dataset("neuron/vThMant", data=np.int64(loihi.threshold_to_int(d["threshold"])))
    if d["stage"] == "sigma":
        lay.create_dataset("neuron/sigma_output", data=True)
