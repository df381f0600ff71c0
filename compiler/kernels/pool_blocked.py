"""Lowerings: pool_blocked (to be written)."""
