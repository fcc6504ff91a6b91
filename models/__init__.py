"""Torch models of snnpipe: neurons (``neurons``), SLAYER-style blocks (``block``), networks
(``network``, ``networks``), losses, training helpers, bounds and dropout.

Every block and network exports itself to the Graph IR (:mod:`snnpipe.pipeline.ir.graph`); nothing
downstream of the exported file imports this package.
"""
