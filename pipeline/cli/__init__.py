"""The ``snnpipe`` command line."""
