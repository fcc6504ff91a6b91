"""The five reference workflows (``../shared/seeds``) as recipes: data, network, training, deployment.

Each recipe module generates its own data (seeded, no downloads; train and test sets come from
different seeds). Tensors follow the models' convention (batch, channels, time).
"""
