"""How each framework discretises the NIR neurons it writes: one table, measured by running them.

A NIR file holds continuous-time ODEs and no time step; every framework that writes one
simulates its own network with its own step rule and writes its parameters with its own
conventions. To reproduce a framework spike for spike, an import must know which rule wrote the
file. :data:`PRODUCERS` holds one :class:`Conventions` per writer. In the equations below
``x[t]`` is the output of the projection into the population at step t (spikes through NIR's
Linear / Affine / Conv ...), ``s[t]`` the population's spikes, ``I`` the synaptic current,
``steps = tau / step_tau``: a written time constant in steps of the simulation.

``exact`` (NIR's ODEs, zero-order hold; the default with a dt in the file or given)::

    I[t] = e_syn I[t-1] + (1 - e_syn) w_in x[t]                 e = exp(-1 / steps)
    v[t] = e_mem v[t-1] + (1 - e_mem) (v_leak + r I[t])          (IF, I: v += dt r x[t])
    s[t] = v[t] > v_threshold; v[t] = v_reset where s[t]

``snntorch`` (snnTorch 1.0 ``Leaky``, ``Synaptic``, ``RLeaky``, ``RSynaptic``; export_to_nir
writes tau = 1e-4 / (1 - beta), r = tau / 1e-4, w_in = tau_syn / 1e-4, v_reset 0 whatever
``reset_mechanism`` was)::

    I[t] = alpha I[t-1] + x[t]                                   alpha = 1 - 1e-4 / tau_syn
    v[t] = beta v[t-1] + I[t] - threshold s[t-1]                 beta = 1 - 1e-4 / tau
    s[t] = v[t] > threshold

Forward Euler with dt = 1e-4 s; the default reset by subtraction subtracts the threshold
*after* the decay (``snntorch-zero``: ``reset_mechanism="zero"``, v[t] = beta v[t-1]
(1 - s[t-1]) + I[t]).

``norse`` (Norse 1.1 ``LIFCell`` -> CubaLIF, ``LIFBoxCell`` -> LIF, ``LIBoxCell`` -> LI,
``IAFCell`` -> IF; to_nir writes tau = dt_export / tau_inv with dt_export = 1e-3 by default,
r = 1, w_in = 1)::

    i = i[t-1] + w_in x[t]; v[t] = v[t-1] + a (v_leak - v[t-1] + r i); i[t] = (1 - b) i
    s[t] = v[t] > v_th; v[t] = v_reset (0) where s[t]             (IAFCell: v += x)

with a = dt dt_export / tau_mem and b = dt dt_export / tau_syn (dt = Norse's step, 1e-3).

``norse-seconds`` (what Norse 1.1's own importer, ``norse.torch.from_nir``, steps: taus in
seconds at its step of 1e-3 s, 1000 times those its exporter writes; LIF -> LIFBoxCell, IF ->
IAFCell, CubaLIF -> LIBoxCell into LIFBoxCell; written by ``to_nir(graph, producer="norse")``)::

    i[t] = (1 - b) i[t-1] + b w_in x[t];  v[t] = (1 - a) v[t-1] + a r i[t]   (LIF: r = 1)
    s[t] = v[t] > v_th; v[t] = 0 where s[t]                                 (IF: v += x)

with a = 1e-3 / tau_mem and b = 1e-3 / tau_syn.

``sinabs`` (Sinabs 3.1 ``IAF(Squeeze)`` -> IF, ``LIF(Squeeze)`` -> LIF, ``ExpLeak`` -> LI,
SumPool2d; taus in steps, r = 1; multi-spike and subtractive reset by default)::

    v[t] = alpha v[t-1] + (1 - alpha) r x[t]    (LIF, norm_input=True by default)
    v[t] = alpha v[t-1] + r x[t]                 (ExpLeak, norm_input=False; IF: alpha = 1)
    n[t] = floor(v[t] / threshold) where v[t] >= threshold; v[t] -= n[t] threshold

``rockpool`` (Rockpool 3.1 ``LIFTorch`` -> CubaLIF, ``LIFNeuronTorch`` -> LIF,
``ExpSynTorch`` -> LI; writes r = tau_mem exp(-dt / tau_mem) / dt, from which dt is solved;
its own step has no r)::

    I[t] = e_syn (I[t-1] + x[t]);  v[t] = e_mem v[t-1] + I[t]    (ExpSynTorch: v = e (v + x))
    n[t] = floor(v[t] / threshold) where v[t] >= threshold; v[t] -= n[t] threshold

``snnpipe`` (our own to_nir): ``exact``, with the graph's own timing (every projection one
step, biases from step 0); detected from the file's metadata.

A threshold compared with ``>=`` is stored as the largest float64 below it (our neurons compare
with ``>``): equal decisions for every float64 value. Multi-spike counts are capped at
:data:`snnpipe.hwmap.targets.loihi.MAX_SPIKES` (31) per step by our neuron.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Conventions:
    """How one framework's NIR file is to be stepped (see the module docstring).

    Attributes:
        name: the producer's name (``--producer``).
        tau: how a written ``tau`` becomes steps: ``"dt"`` (seconds; steps = tau / dt),
            ``"fixed"`` (steps = tau / ``step_tau``), ``"norse"`` (steps = tau / (dt
            ``step_tau``)), ``"rockpool"`` (seconds, dt solved from r).
        step_tau: the written tau of one step for ``"fixed"`` / ``"norse"``.
        decay: ``"exact"`` (1 - exp(-1 / steps)) or ``"euler"`` (1 / steps).
        syn_gain: input gain into a synaptic current: ``"ode"`` (decay w_in), ``"jump"``
            (w_in), ``"decayed"`` ((1 - decay) w_in).
        mem_gain: per NIR node type (``"*"`` for the rest), the gain of the current (or the
            input) into v: ``"ode"`` (decay r), ``"one"`` (r), ``"dt"`` (dt r, for IF / I),
            ``"unit"`` (1: Rockpool's r only encodes its dt), ``"decayed"`` (1 - decay).
        threshold: ``">"`` or ``">="``.
        spike: ``"binary"`` or ``"multi"``.
        reset: ``"zero"`` (to v_reset, which must be 0), ``"subtract"`` (before the decay),
            ``"subtract-after-decay"`` (snnTorch: v[t] = beta v[t-1] + I - threshold s[t-1]).
        timing: ``"framework"``: projections act within the step (every population starts at
            step 0, cycles one step later), as every framework steps; ``"graph"``: our IR's
            own timing (one step per projection, biases from step 0).
        dt: the graph's time step when neither the caller nor the file gives one (seconds),
            None where it is required.
    """

    name: str
    tau: str = "dt"
    step_tau: float = 1.0
    decay: str = "exact"
    syn_gain: str = "ode"
    mem_gain: dict = field(default_factory=lambda: {"IF": "dt", "I": "dt", "*": "ode"})
    threshold: str = ">"
    spike: str = "binary"
    reset: str = "zero"
    timing: str = "framework"
    dt: float | None = None

    def gain(self, node_type: str) -> str:
        """The ``mem_gain`` rule of a NIR node type."""
        return self.mem_gain.get(node_type, self.mem_gain["*"])


PRODUCERS: dict[str, Conventions] = {
    "exact": Conventions("exact"),
    "snnpipe": Conventions("snnpipe", timing="graph"),
    "snntorch": Conventions("snntorch", tau="fixed", step_tau=1e-4, decay="euler",
                            reset="subtract-after-decay", dt=1e-4),
    "snntorch-zero": Conventions("snntorch-zero", tau="fixed", step_tau=1e-4, decay="euler",
                                 dt=1e-4),
    "norse": Conventions("norse", tau="norse", step_tau=1e-3, decay="euler", syn_gain="jump",
                         mem_gain={"IF": "one", "I": "one", "*": "ode"}, dt=1e-3),
    "norse-seconds": Conventions("norse-seconds", tau="fixed", step_tau=1e-3, decay="euler",
                                 mem_gain={"IF": "one", "I": "one", "*": "ode"}, dt=1e-3),
    "sinabs": Conventions("sinabs", tau="fixed", step_tau=1.0,
                          mem_gain={"LIF": "ode", "CubaLIF": "ode", "*": "one"},
                          syn_gain="decayed", threshold=">=", spike="multi", reset="subtract",
                          dt=1e-3),
    "rockpool": Conventions("rockpool", tau="rockpool", syn_gain="decayed",
                            mem_gain={"LI": "decayed", "*": "unit"}, threshold=">=", spike="multi",
                            reset="subtract"),
}
