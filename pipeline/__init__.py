"""The pipeline's floors: ``ir`` (errors, atomic writes, the Graph IR and its validation),
``formats`` (network and spike files), ``backends`` (running a compiled network on any
implementation), and on top ``verify``, ``report`` and ``cli``."""
