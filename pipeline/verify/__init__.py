"""Verification: the same input through several implementations, compared step by step."""
