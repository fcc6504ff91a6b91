"""Neuron dynamics: pure step/sequence functions per precision and thin modules around them."""
