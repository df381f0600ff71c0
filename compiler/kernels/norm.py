"""Lowerings: norm family (to be written)."""
