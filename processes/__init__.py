"""The Lava backend: Graph -> Lava processes -> runs on Lava's CPU simulator.

``processes.compile.compile(graph, precision) -> LavaNetwork`` and
``processes.run.run(network, spikes, steps=None, probes=()) -> Record``;
``processes.smoke.three_neuron_check(precision)`` for ``snnpipe doctor``; custom processes in
``processes.multisyn``. Only ``compile``, ``run``, ``lavaguard`` and ``multisyn`` import Lava;
``import processes`` does not.
"""
