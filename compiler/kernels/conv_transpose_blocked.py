"""Lowerings: conv_transpose_blocked (to be written)."""
