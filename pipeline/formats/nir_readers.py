"""What each framework's NIR importer builds from the nodes it reads: :data:`READERS`.

Measured by running each importer (``snntorch.import_nir.import_from_nir`` 1.0,
``norse.torch.from_nir`` 1.1, ``sinabs.from_nir`` 3.1, ``rockpool.nn.modules.torch.nir.
from_nir`` 3.1) on the files :mod:`.nir_export_frameworks` writes; each steps what it builds by
the rules of one entry of :data:`~snnpipe.pipeline.formats.nir_conventions.PRODUCERS`.

========  ==============  ===========================================================
--for     conventions     what is written (measured against the framework's own importer)
========  ==============  ===========================================================
snntorch  snntorch-zero   cuba (reset to zero, binary) -> LIF (current_decay 1) or CubaLIF:
                          tau = 1e-4 / decay, r = tau_mem / 1e-4, w_in = tau_syn / 1e-4 (gain
                          1, weights as they are); Linear, Conv2d. One threshold per population.
norse     norse-seconds   cuba (reset to zero, binary) -> CubaLIF (tau = 1e-3 / decay, r =
                          1 / voltage_decay, w_in = 1 / current_decay), LIF (r = 1: from_nir's
                          LIFBoxCell ignores r; weights / voltage_decay, one per channel after a
                          conv), IF (voltage_decay 0, current_decay 1: IAFCell, v += x); Linear,
                          Conv2d.
sinabs    sinabs          cuba (subtractive reset, multi-spike, current_decay 1) -> LIF with tau
                          = -1 / log(1 - decay) steps, r = 1 / voltage_decay (Sinabs reads r = 1
                          whatever is written: norm_input off) and the float64 above our
                          threshold (Sinabs spikes at v >= threshold); li (current_decay 1) ->
                          LI (r = 1); Affine with zero bias (from_nir reads no Linear). 1-d
                          populations only.
rockpool  rockpool        cuba (subtractive reset, multi-spike, current_decay in (0, 1)) ->
                          CubaLIF with taus in seconds (-dt / log(1 - decay)), r = tau_mem / dt
                          - 1 (from_nir takes dt = min tau_mem / (1 + r)), w_in 1 (LIFTorch
                          ignores it and scales its input by exp(-dt / tau_syn): weights /
                          (1 - current_decay)); the threshold above ours (>=); Linear.
========  ==============  ===========================================================

Refused (GraphError naming node or edge and field), because the framework's importer would
build something that runs differently: a neuron feature it has no form for (reset, spike
kind, synaptic current, non-spiking readout, a decay of 0 or 1 its taus cannot hold, several
thresholds where snnTorch takes one), a non-zero bias (ours acts from step 0, before the first
input reaches a population; the frameworks start it with the input), recurrent edges other
than a population's onto itself without delay (and any in Sinabs), merges, per-synapse delays,
a population reached by paths of different lengths, several synaptic currents, refractory
periods. Known importer defects are refusals too, named in the message: snnTorch builds NIR's
IF as ``Leaky(beta=0.9)`` with subtractive reset; snnTorch and Norse build NIR's Flatten as
``torch.nn.Flatten(start_dim=0)``, folding the batch in (so no dense projection after a conv);
Sinabs' IAF clamps v at -threshold and its LIF and LI imports fail on populations of more than
one dimension; Rockpool's LIF import reads ``node.tau_mem`` (NIR's LIF has ``tau``) and its LI
import truncates tau to an integer.

Our multi-spike neurons emit at most 31 spikes in a step
(:data:`snnpipe.hwmap.targets.loihi.MAX_SPIKES`), Sinabs' and Rockpool's any number: where one
of our populations reaches 31, they part from us (a run-time property, not refused).
"""
from __future__ import annotations

from dataclasses import dataclass

from snnpipe.pipeline.formats.nir_conventions import PRODUCERS, Conventions

SNNTORCH_IF = "snnTorch 1.0's import_from_nir builds NIR's IF as Leaky(beta=0.9) with " \
              "subtractive reset"
NO_READOUT = "its importer reads no LI or CubaLI (a non-spiking readout)"
TORCH_FLATTEN = "its importer builds torch.nn.Flatten(start_dim, end_dim) from NIR's Flatten, " \
                "whose dimensions exclude the batch: the batch is flattened in"


@dataclass(frozen=True)
class Reader:
    """What one framework's NIR importer builds, and how (see the module docstring).

    Attributes:
        producer: the key of PRODUCERS whose rules its importer follows.
        nodes: NIR node type -> None where the importer builds it right, else why not.
        spike, reset: the only spike kind and reset its neurons have.
        one_threshold: it takes a single threshold per population.
        ignores: (node type, parameter) it does not read: written as 1, the gain it leaves
            goes into the weights.
        r_is_dt: r only says the time step (Rockpool: dt = tau_mem / (1 + r)).
        affine: dense projections as Affine with a zero bias (it reads no Linear).
        recurrent: None where it steps a population's self-recurrence (written as a nested
            NIRGraph Input -> neuron <-> Linear -> Output, the form snnTorch and Rockpool
            export), else why not.
        conv, flatten: None where it reads Conv2d, and Flatten (NIR's dimensions exclude the
            batch), else why not.
        multi_dim: None where it reads neurons of more than one dimension, else why not.
    """

    producer: str
    nodes: dict
    spike: str = "binary"
    reset: str = "zero"
    one_threshold: bool = False
    ignores: frozenset = frozenset()
    r_is_dt: bool = False
    affine: bool = False
    recurrent: str | None = None
    conv: str | None = None
    flatten: str | None = None
    multi_dim: str | None = None

    @property
    def conventions(self) -> Conventions:
        return PRODUCERS[self.producer]


READERS: dict[str, Reader] = {
    "snntorch": Reader("snntorch-zero", one_threshold=True, flatten=TORCH_FLATTEN, nodes={
        "LIF": None, "CubaLIF": None, "IF": SNNTORCH_IF, "LI": NO_READOUT, "CubaLI": NO_READOUT}),
    "norse": Reader("norse-seconds", ignores=frozenset({("LIF", "r"), ("IF", "r")}),
                    flatten=TORCH_FLATTEN, nodes={
        "LIF": None, "CubaLIF": None, "IF": None, "LI": NO_READOUT, "CubaLI": NO_READOUT}),
    "sinabs": Reader("sinabs", spike="multi", reset="subtract", affine=True,
                     recurrent="Sinabs' layers step every time step in one call",
                     multi_dim="Sinabs 3.1's from_nir tests v_leak with Python's any(), which "
                     "raises ValueError on an array of more than one dimension", nodes={
        "LIF": None, "LI": None, "IF": "Sinabs 3.1's from_nir builds IAF with min_v_mem = "
        "-threshold (v clamped there)", "CubaLIF": "its importer reads no CubaLIF (a synaptic "
        "current)", "CubaLI": "its importer reads no CubaLI (a synaptic current)"}),
    "rockpool": Reader("rockpool", spike="multi", reset="subtract", r_is_dt=True,
                       ignores=frozenset({("CubaLIF", "w_in")}), conv="its importer reads no "
                       "Conv2d", flatten="its importer reads no Flatten", nodes={
        "CubaLIF": None, "LIF": "Rockpool 3.1's from_nir fails on NIR's LIF (it reads "
        "node.tau_mem; LIF has tau), and its LIFTorch always decays the input current",
        "LI": "Rockpool 3.1's from_nir builds ExpSynTorch(tau=tau.int()): tau truncated to an "
        "integer (and a scalar tau fails)", "IF": "its importer reads no IF",
        "CubaLI": "its importer reads no CubaLI"}),
}
