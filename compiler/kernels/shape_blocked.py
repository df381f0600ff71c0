"""Lowerings: shape_blocked (to be written)."""
