"""The ground floor of the pipeline: typed errors, atomic writes, the Graph IR and its validation."""
