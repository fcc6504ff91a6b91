"""Run a :class:`XyloConfig` on SynSense's bit-accurate ``xylosim`` (the reference of the target).

``xylosim.v2.XyloLayer`` (Xylo Audio 2) or ``xylosim.v1.XyloLayer`` (Xylo v1, no bias) is built
from the config as Rockpool's ``XyloSim.from_specification`` does, and driven directly (Rockpool's
device package needs samna, which is not available). Its API, read from the package: synapse
lists per presynaptic neuron of ``XyloSynapse(target_neuron_id, target_synapse_id, weight)``
(int8 weights), ``evolve(input)`` with input (T, Nin), recordings ``rec_v_mem`` etc. (N, T) and
``rec_recurrent_spikes`` / ``rec_out_spikes`` (T, N); ``reset_all()`` zeroes the states.
"""
from __future__ import annotations

import numpy as np

from snnpipe.hwmap.mappers.xylo_config import XyloConfig
from snnpipe.pipeline.ir.errors import BackendError

_RECORDED = {"Vmem": "rec_v_mem", "Isyn": "rec_i_syn", "Isyn2": "rec_i_syn2",
             "Vmem_out": "rec_v_mem_out", "Isyn_out": "rec_i_syn_out"}


def _synapses(module, w: np.ndarray) -> list:
    """(pre, post, syn) int weights -> per presynaptic neuron, its list of XyloSynapse."""
    out = []
    for pre in range(w.shape[0]):
        post, syn = np.nonzero(w[pre])
        out.append([module.XyloSynapse(int(p), int(q), int(w[pre, p, q])) for p, q in zip(post, syn)])
    return out


class XyloReference:
    """A xylosim layer built from ``config``; keeps the synapse lists alive as long as itself.

    ``version`` is 2 (Xylo Audio 2) or 1 (Xylo v1; biases are ignored).
    """

    def __init__(self, config: XyloConfig, version: int = 2):
        try:
            if version == 2:
                from xylosim import v2 as module
            else:
                from xylosim import v1 as module
        except ImportError as e:
            raise BackendError(f"xylosim is not installed ({e}); pip install xylosim==0.1.3",
                               where="xylosim") from None
        c = config
        self.config = c
        self.syn_in = _synapses(module, c.weights_in)
        self.syn_rec = _synapses(module, c.weights_rec)
        self.syn_out = _synapses(module, c.weights_out[:, :, None])
        kwargs = dict(synapses_in=self.syn_in, synapses_rec=self.syn_rec, synapses_out=self.syn_out,
                      aliases=[list(a) for a in c.aliases], threshold=c.threshold.tolist(),
                      threshold_out=c.threshold_out.tolist(), weight_shift_inp=c.weight_shift_in,
                      weight_shift_rec=c.weight_shift_rec, weight_shift_out=c.weight_shift_out,
                      dash_mem=c.dash_mem.tolist(), dash_mem_out=c.dash_mem_out.tolist(),
                      dash_syns=[[int(a), int(b)] for a, b in zip(c.dash_syn, c.dash_syn_2)],
                      dash_syns_out=[[int(a)] for a in c.dash_syn_out], name="snnpipe")
        if version == 2:
            kwargs.update(has_bias=True, bias=c.bias.tolist(), bias_out=c.bias_out.tolist())
        self.layer = module.XyloLayer(**kwargs)

    def run(self, inputs, record: bool = True) -> dict:
        """Run each sample of ``inputs`` (batch, Nin, T) from zero state.

        Returns ``spikes_out`` (B, Nout, T), ``spikes`` (B, Nhid, T) and, with ``record``,
        the states of :data:`_RECORDED` (B, N, T), all int64.
        """
        x = np.asarray(inputs)
        if x.ndim == 2:
            x = x[None]
        results = []
        for sample in x:
            self.layer.reset_all()
            self.layer.evolve(sample.T.tolist())
            r = {"spikes_out": np.array(self.layer.rec_out_spikes, np.int64).T,
                 "spikes": np.array(self.layer.rec_recurrent_spikes, np.int64).T}
            if record:
                for name, attr in _RECORDED.items():
                    r[name] = np.array(getattr(self.layer, attr), np.int64)
            results.append(r)
        self.layer.reset_all()
        return {k: np.stack([r[k] for r in results]) for k in results[0]}


def random_config(rng: np.random.Generator, n_in: int | None = None, n_hidden: int | None = None,
                  n_out: int | None = None, density: float | None = None,
                  threshold_bits: int | None = None, alias_p: float = 0.2) -> XyloConfig:
    """A random config within Xylo Audio 2's formats, for cross-checks against xylosim.

    Sizes default to random values in 1..16 inputs, 1..60 hidden, 1..8 outputs; weights are
    int8 with the given density (random in 0.05..0.6), one or two synapses, dashes 0..15,
    shifts 0..7, thresholds 1..2^threshold_bits (random bits), biases int8, and an alias with
    probability ``alias_p`` per hidden neuron (any other neuron, neuron 0 included).
    """
    n_in = int(n_in or rng.integers(1, 17))
    n_hid = int(n_hidden or rng.integers(1, 61))
    n_out = int(n_out or rng.integers(1, 9))
    dens = rng.uniform(0.05, 0.6) if density is None else density

    def weights(shape):
        return rng.integers(-128, 128, shape) * (rng.random(shape) < dens)

    w_in, w_rec, w_out = weights((n_in, n_hid, 2)), weights((n_hid, n_hid, 2)), weights((n_hid, n_out))
    if rng.random() < 0.3:
        w_in[:, :, 1] = 0
        w_rec[:, :, 1] = 0
    aliases = [[] for _ in range(n_hid)]
    for i in range(n_hid):
        a = int(rng.integers(0, n_hid))
        if n_hid > 1 and a != i and rng.random() < alias_p:
            aliases[i] = [a]

    def thresholds(n):
        bits = int(threshold_bits or rng.integers(1, 16))
        return rng.integers(1, (1 << bits) + 1, n).clip(1, 32767)

    return XyloConfig(weights_in=w_in, weights_rec=w_rec, weights_out=w_out,
                      dash_mem=rng.integers(0, 16, n_hid), dash_mem_out=rng.integers(0, 16, n_out),
                      dash_syn=rng.integers(0, 16, n_hid), dash_syn_2=rng.integers(0, 16, n_hid),
                      dash_syn_out=rng.integers(0, 16, n_out), threshold=thresholds(n_hid),
                      threshold_out=thresholds(n_out), bias=rng.integers(-128, 128, n_hid),
                      bias_out=rng.integers(-128, 128, n_out),
                      weight_shift_in=int(rng.integers(0, 8)), weight_shift_rec=int(rng.integers(0, 8)),
                      weight_shift_out=int(rng.integers(0, 8)), aliases=aliases)
