"""Recorders that write every step to a memory-mapped file (interfaces in ``process``)."""
