"""The HTML report of trained and deployed networks, and its plots."""
