"""What a run of the Loihi-style integer simulator returns: spikes, states, event counts."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Mapping

import numpy as np

from snnpipe.hwmap.intsim.energy import LoihiCosts, estimate


@dataclass
class EventCounts:
    """Events of a batch. Per sample (B, n_cores): ``synops`` (synaptic operations in the
    destination core), ``spikes``; per sample (B,): ``local_messages`` (spike to its own core),
    ``core_messages`` (to another core of the chip), ``chip_messages``, ``input_messages``;
    per step summed over the batch (T, n_cores): ``step_synops``, ``step_spikes``,
    ``step_messages_out``; ``neurons_per_core`` (n_cores,), ``neuron_updates`` (n_cores,) per
    sample (every neuron updates every step)."""

    synops: np.ndarray
    spikes: np.ndarray
    local_messages: np.ndarray
    core_messages: np.ndarray
    chip_messages: np.ndarray
    input_messages: np.ndarray
    step_synops: np.ndarray
    step_spikes: np.ndarray
    step_messages_out: np.ndarray
    neurons_per_core: np.ndarray
    neuron_updates: np.ndarray


@dataclass
class LoihiResult:
    """``spikes``: a mapping population -> (B, N, T) uint8 (index t-1 is Lava step t);
    ``states``: ``"<pop>/u"`` -> (B, n_syn, N, T), ``"<pop>/v"`` -> (B, N, T) int64; ``counts``
    (:class:`EventCounts`, computed by ``tally`` on first use) and ``energy``
    (:func:`snnpipe.hwmap.intsim.energy.estimate` of them under ``costs``)."""

    spikes: Mapping
    states: dict = field(default_factory=dict)
    tally: Callable[[], EventCounts] | None = field(default=None, repr=False)
    costs: LoihiCosts = field(default_factory=LoihiCosts)

    @cached_property
    def counts(self) -> EventCounts | None:
        return None if self.tally is None else self.tally()

    @cached_property
    def energy(self) -> dict:
        return {} if self.counts is None else estimate(self.counts, self.costs)
