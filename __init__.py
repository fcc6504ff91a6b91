"""snnpipe: from PyTorch-trained spiking neural networks to neuromorphic hardware, verified bit
for bit.

The repository's folders are this package's sub-packages: :mod:`snnpipe.models`,
:mod:`snnpipe.pipeline`, :mod:`snnpipe.processes` and :mod:`snnpipe.hwmap`.
"""
from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("snnpipe")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
