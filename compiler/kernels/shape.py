"""Lowerings: shape family (to be written)."""
