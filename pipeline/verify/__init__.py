"""Verification: the same input through several implementations, compared step by step.

:func:`.chain.verify` runs a target's chain of backends (:data:`snnpipe.pipeline.backends.CHAINS`)
and :func:`.compare.compare` compares any list of runs; :class:`.compare.VerifyReport` is the
result (a table, the first divergence, saturation events).
"""
