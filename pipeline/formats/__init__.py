"""Network and spike files: our HDF5 (netx layout + graph group), netx, NIR, event files."""
