"""The five reference workflows (``../shared/seeds``) as recipes: data, network, training, deployment.

Each recipe module generates its own data (seeded, no downloads; train and test sets come from
different seeds), and exposes the uniform API listed in :mod:`snnpipe.models.recipes.registry`
(``train``, ``evaluate``, ``DEFAULT_EPOCHS``, ``DEFAULTS``, ``TARGETS``, ``DEPLOY``);
:mod:`snnpipe.models.recipes.common` holds the training loop, the run files and the backends.
Tensors follow the models' convention (batch, channels, time).
"""
