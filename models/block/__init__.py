"""Blocks (synapse + neuron + output shift) mirroring ``lava.lib.dl.slayer.block``."""
