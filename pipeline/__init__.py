"""snnpipe's pipeline: the Graph IR, HDF5 files, validation, verification and the command line."""
from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("snnpipe")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
