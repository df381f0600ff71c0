"""Lowerings: pool family (to be written)."""
