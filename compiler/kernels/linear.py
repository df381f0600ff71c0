"""Lowerings: linear family (to be written)."""
