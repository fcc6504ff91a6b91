"""Neuron populations as torch modules (thin wrappers of the step functions of
:mod:`snnpipe.models.neurons`, dispatching to :mod:`snnpipe.models.kernels`): :class:`.cuba.Cuba`
and the leaky-integrator readout :class:`.li.Li`."""
