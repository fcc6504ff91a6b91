"""Neuron dynamics as pure functions, one module per precision (the bottom of the models):
:mod:`.state` (parameters, state, the time loop), :mod:`.cuba_float`, :mod:`.cuba_loihi`,
:mod:`.cuba_xylo`, and :mod:`.registry` (the precisions by name). The fused kernels
(:mod:`snnpipe.models.kernels`) are checked against these functions; the torch modules that
hold the parameters are in :mod:`snnpipe.models.populations`."""
