"""Multi-synapse CUBA LIF and leaky-readout Lava processes.

Interfaces in ``process``, ProcessModels in ``models`` (Lava finds them in this folder).
"""
