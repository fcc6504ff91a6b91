"""Hardware configurations of each target: quantisers, mappers, config files, resource reports."""
