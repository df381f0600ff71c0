"""Lowerings: depthwise (to be written)."""
