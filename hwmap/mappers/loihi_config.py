"""The Loihi-style hardware configuration: integer parameters, placement and routing.

A :class:`LoihiConfig` is a plain dataclass of integer numpy arrays and small dicts, saved with
:mod:`snnpipe.hwmap.mappers.configio` under target ``"loihi"`` and validated on load (typed errors naming the
field). Neurons are addressed per population, flattened in C order of the population's shape
(channels, height, width).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snnpipe.hwmap.mappers.configio import load_config, save_config
from snnpipe.hwmap.targets.loihi import DECAY_UNIT, RF_DECAY_MAX, SD_EXP_MAX, VTH_MAX
from snnpipe.pipeline.ir.errors import FormatError

TARGET = "loihi"
OPS = ("dense", "conv", "identity")
MODELS = ("cuba", "li", "sigma_delta", "rf")
RF_VARIANTS = ("phase", "izhikevich")
SD_STAGES = ("sigma_delta", "delta", "sigma")


@dataclass
class Population:
    """Integer parameters of one neuron population of N neurons.

    ``i_decay`` (n_syn, N) and ``v_decay`` (N,) in 1/4096 per step (0..4096; Lava
    ``du = i_decay - 1``, ``dv = v_decay``); ``vth`` (N,) threshold mantissa (theta = vth << 6,
    ignored by ``li``); ``bias_mant``, ``bias_exp`` (N,): bias ``bias_mant << bias_exp`` in
    state units (1/4096 of the float unit).

    ``sigma_delta`` (Lava's SigmaDelta, Delta, Sigma): ``sd`` holds ``stage``, ``relu``,
    ``spike_exp``, ``state_exp``, ``message_bits``; ``vth`` and ``bias_mant`` are in 1/64 of
    the float unit and ``bias_exp = spike_exp + state_exp``: threshold and bias in state units
    are ``vth << bias_exp`` and ``bias_mant << bias_exp``; the decays are zero (unused).

    ``rf`` (Lava's RF, RF_IZ): ``rf`` holds ``variant`` (phase | izhikevich) and per neuron
    ``sin_decay``, ``cos_decay`` (lists of 12-bit integers); ``vth`` is in 1/64 (theta =
    ``vth << 6``); ``i_decay`` (2, N) names its two currents, real and imaginary, and with
    ``v_decay`` and the bias is zero (unused).

    ``spike`` (``cuba``): ``binary``, or ``graded``: a spike carries the pre-reset voltage
    (:func:`snnpipe.hwmap.targets.loihi.graded_payload`, slayer's graded spikes), and the
    projections out of the population add ``trunc0(W @ payload / 64)`` to their targets
    (:func:`snnpipe.hwmap.targets.loihi.graded_input`).

    ``reset_interval`` > 0 (``cuba``, ``li``; Lava's LIFReset): u and v are set to zero at the
    start of step t (1-based) where ``t % reset_interval == reset_offset``; 0: never.
    """

    name: str
    shape: tuple
    model: str
    i_decay: np.ndarray
    v_decay: np.ndarray
    vth: np.ndarray
    bias_mant: np.ndarray
    bias_exp: np.ndarray
    sd: dict = field(default_factory=dict)
    rf: dict = field(default_factory=dict)
    spike: str = "binary"
    reset_interval: int = 0
    reset_offset: int = 0

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def n_syn(self) -> int:
        return int(self.i_decay.shape[0])


@dataclass
class Projection:
    """One synaptic projection ``src -> dst`` into synaptic current ``syn`` of ``dst``.

    ``weight``: mantissas, int64; dense (N_dst, N_src), conv (C_out, C_in/groups, kh, kw),
    identity (N,). ``num_weight_bits``/``weight_exp`` as Lava's Dense (ignored by conv, as
    Lava's Conv ignores them). ``delay``: int64 0-d or (N_dst, N_src) steps (arrival at
    t + 1 + delay). ``message_bits``: 0 means binary (any non-zero input counts once), > 0 means
    graded (``W @ s``). ``conv``: stride, padding, dilation (pairs), groups.
    """

    src: str
    dst: str
    op: str
    weight: np.ndarray
    num_weight_bits: int = 8
    weight_exp: int = 0
    syn: int = 0
    delay: np.ndarray = field(default_factory=lambda: np.zeros((), np.int64))
    message_bits: int = 0
    conv: dict = field(default_factory=dict)

    @property
    def max_delay(self) -> int:
        return int(np.max(self.delay)) if np.size(self.delay) else 0


@dataclass
class LoihiConfig:
    """A network ready for a Loihi-style chip.

    ``inputs``: name -> shape; ``populations`` and ``projections`` in dependency order;
    ``outputs``: node names; ``cores``: one dict per core (``core``, ``chip``, ``pop``,
    ``start``, ``stop`` neuron slice, ``synapses``, ``memory_bits``); ``routes``: one dict per
    (projection, source core or input, destination core) with the ``axons`` that reach it;
    ``limits``: the LoihiLimits used; ``quant``: the quantisation report (``QuantReport.to_dict``).
    """

    name: str
    dt: float
    inputs: dict
    populations: list
    projections: list
    outputs: list
    cores: list = field(default_factory=list)
    routes: list = field(default_factory=list)
    limits: dict = field(default_factory=dict)
    quant: dict = field(default_factory=dict)

    def population(self, name: str) -> Population:
        for p in self.populations:
            if p.name == name:
                return p
        raise KeyError(name)

    def node_size(self, name: str) -> int:
        if name in self.inputs:
            return int(np.prod(self.inputs[name]))
        return self.population(name).size

    def node_shape(self, name: str) -> tuple:
        return tuple(self.inputs[name]) if name in self.inputs else self.population(name).shape


POP_ARRAYS = ("i_decay", "v_decay", "vth", "bias_mant", "bias_exp")
PROJ_SCALARS = ("src", "dst", "op", "num_weight_bits", "weight_exp", "syn", "message_bits", "conv")


def save(config: LoihiConfig, path):
    """Write ``config`` to ``path`` (a directory or a ``.json`` file). Returns the JSON path."""
    fields = {"name": config.name, "dt": config.dt, "outputs": list(config.outputs),
              "inputs": {k: list(v) for k, v in config.inputs.items()},
              "cores": config.cores, "routes": config.routes, "limits": config.limits,
              "quant": config.quant,
              "populations": [{"name": p.name, "shape": list(p.shape), "model": p.model,
                               **({"sd": p.sd} if p.sd else {}),
                               **({"rf": p.rf} if p.rf else {}),
                               **({"spike": p.spike} if p.spike != "binary" else {}),
                               **({"reset_interval": p.reset_interval,
                                   "reset_offset": p.reset_offset} if p.reset_interval else {})}
                              for p in config.populations],
              "projections": [{k: getattr(q, k) for k in PROJ_SCALARS}
                              for q in config.projections]}
    for i, p in enumerate(config.populations):
        for k in POP_ARRAYS:
            fields[f"pop{i}.{k}"] = np.asarray(getattr(p, k), np.int64)
    for i, q in enumerate(config.projections):
        fields[f"proj{i}.weight"] = np.asarray(q.weight, np.int64)
        fields[f"proj{i}.delay"] = np.asarray(q.delay, np.int64)
    return save_config(path, TARGET, fields)


def load(path) -> LoihiConfig:
    """Read and validate a config written by :func:`save`.

    Raises:
        FormatError: naming the file and the field when the target is not ``loihi``, a field is
            missing or of the wrong type, or an array has the wrong shape or range.
    """
    target, f = load_config(path)
    if target != TARGET:
        raise FormatError("config is for another target", file=path, field="target",
                          expected=TARGET, found=target)
    try:
        pops = [Population(d["name"], tuple(int(s) for s in d["shape"]), d["model"],
                           *(_int_array(f, f"pop{i}.{k}", path) for k in POP_ARRAYS),
                           sd=dict(d.get("sd", {})), rf=dict(d.get("rf", {})),
                           spike=d.get("spike", "binary"),
                           reset_interval=d.get("reset_interval", 0),
                           reset_offset=d.get("reset_offset", 0))
                for i, d in enumerate(f["populations"])]
        projs = [Projection(**{k: d[k] for k in PROJ_SCALARS},
                            weight=_int_array(f, f"proj{i}.weight", path),
                            delay=_int_array(f, f"proj{i}.delay", path))
                 for i, d in enumerate(f["projections"])]
        cfg = LoihiConfig(f["name"], float(f["dt"]), {k: tuple(v) for k, v in f["inputs"].items()},
                          pops, projs, list(f["outputs"]), list(f.get("cores", [])),
                          list(f.get("routes", [])), dict(f.get("limits", {})),
                          dict(f.get("quant", {})))
    except (KeyError, TypeError, AttributeError) as e:
        raise FormatError(f"missing or malformed field {e}", file=path) from None
    validate(cfg, path)
    return cfg


def _int_array(fields: dict, name: str, path) -> np.ndarray:
    if name not in fields:
        raise FormatError("missing array", file=path, field=name)
    a = fields[name]
    if not isinstance(a, np.ndarray) or not np.issubdtype(a.dtype, np.integer):
        raise FormatError("expected an integer array", file=path, field=name,
                          found=getattr(a, "dtype", type(a).__name__))
    return a.astype(np.int64)


def _check(ok: bool, path, where, fld, expected, found) -> None:
    if not ok:
        raise FormatError("invalid value", file=path, where=where, field=fld,
                          expected=expected, found=found)


def _check_sd(p: Population, path) -> None:
    sd = p.sd
    _check(sd.get("stage") in SD_STAGES, path, p.name, "sd.stage", "|".join(SD_STAGES),
           sd.get("stage"))
    _check(isinstance(sd.get("relu"), bool), path, p.name, "sd.relu", "true|false",
           sd.get("relu"))
    for k, hi in (("spike_exp", SD_EXP_MAX), ("state_exp", SD_EXP_MAX), ("message_bits", 32)):
        v = sd.get(k)
        _check(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= hi, path, p.name,
               f"sd.{k}", f"0..{hi}", v)


def _check_rf(p: Population, path) -> None:
    rf = p.rf
    _check(rf.get("variant") in RF_VARIANTS, path, p.name, "rf.variant", "|".join(RF_VARIANTS),
           rf.get("variant"))
    for k in ("sin_decay", "cos_decay"):
        v = rf.get(k)
        _check(isinstance(v, list) and len(v) == p.size and all(
            isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= RF_DECAY_MAX
            for x in v), path, p.name, f"rf.{k}", f"{p.size} ints in 0..{RF_DECAY_MAX}", v)
    _check(p.n_syn == 2, path, p.name, "i_decay", "(2, N): real and imaginary currents",
           p.i_decay.shape)


def _check_reset(p: Population, path) -> None:
    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
    _check(is_int(p.reset_interval) and p.reset_interval >= 0, path, p.name, "reset_interval",
           "an int >= 0 (steps; 0: never)", p.reset_interval)
    if p.reset_interval:
        _check(p.model in ("cuba", "li"), path, p.name, "reset_interval",
               "0 for a sigma_delta or rf population", p.reset_interval)
        _check(is_int(p.reset_offset) and 0 <= p.reset_offset < p.reset_interval, path,
               p.name, "reset_offset", f"0..{p.reset_interval - 1}", p.reset_offset)


def validate(cfg: LoihiConfig, path=None) -> None:
    """Check shapes, ranges and references of a config. Raises FormatError naming the field."""
    names = set(cfg.inputs)
    for p in cfg.populations:
        n = p.size
        _check(p.model in MODELS, path, p.name, "model", "|".join(MODELS), p.model)
        if p.model == "sigma_delta":
            _check_sd(p, path)
        if p.model == "rf":
            _check_rf(p, path)
        _check_reset(p, path)
        _check(p.spike == "binary" or (p.spike == "graded" and p.model == "cuba"), path,
               p.name, "spike", "binary | graded (cuba)", p.spike)
        _check(p.i_decay.ndim == 2 and p.i_decay.shape[1] == n, path, p.name, "i_decay",
               f"(n_syn, {n})", p.i_decay.shape)
        for k in ("v_decay", "vth", "bias_mant", "bias_exp"):
            _check(getattr(p, k).shape == (n,), path, p.name, k, (n,), getattr(p, k).shape)
        for k in ("i_decay", "v_decay"):
            a = getattr(p, k)
            _check(a.min(initial=0) >= 0 and a.max(initial=0) <= DECAY_UNIT, path, p.name, k,
                   f"0..{DECAY_UNIT}", (int(a.min(initial=0)), int(a.max(initial=0))))
        _check(p.vth.min(initial=0) >= 0 and p.vth.max(initial=0) <= VTH_MAX, path, p.name,
               "vth", f"0..{VTH_MAX}", int(p.vth.max(initial=0)))
        names.add(p.name)
    sizes = {p.name: p for p in cfg.populations}
    for i, q in enumerate(cfg.projections):
        where = f"projection {i} ({q.src} -> {q.dst})"
        _check(q.src in names and q.dst in sizes, path, where, "src/dst", "known nodes",
               (q.src, q.dst))
        _check(q.op in OPS, path, where, "op", "|".join(OPS), q.op)
        _check(0 <= q.syn < sizes[q.dst].n_syn, path, where, "syn",
               f"0..{sizes[q.dst].n_syn - 1}", q.syn)
        _check(1 <= q.num_weight_bits <= 8, path, where, "num_weight_bits", "1..8",
               q.num_weight_bits)
        _check(-8 <= q.weight_exp <= 7, path, where, "weight_exp", "-8..7", q.weight_exp)
        _check(q.message_bits >= 0, path, where, "message_bits", ">= 0", q.message_bits)
        _check(q.src in cfg.inputs or q.message_bits > 0 or cfg.population(q.src).spike !=
               "graded", path, where, "message_bits", "> 0 out of a graded population",
               q.message_bits)
        _check(q.delay.min(initial=0) >= 0, path, where, "delay", ">= 0", int(q.delay.min()))
        if q.op == "dense":
            exp = (sizes[q.dst].size, cfg.node_size(q.src))
            _check(q.weight.shape == exp, path, where, "weight", exp, q.weight.shape)
            _check(q.delay.ndim == 0 or q.delay.shape == exp, path, where, "delay",
                   f"scalar or {exp}", q.delay.shape)
        elif q.op == "identity":
            _check(q.weight.shape == (sizes[q.dst].size,), path, where, "weight",
                   (sizes[q.dst].size,), q.weight.shape)
        else:
            _check(q.weight.ndim == 4, path, where, "weight", "(C_out, C_in/groups, kh, kw)",
                   q.weight.shape)
    for o in cfg.outputs:
        _check(o in names, path, "outputs", "outputs", "known nodes", o)
