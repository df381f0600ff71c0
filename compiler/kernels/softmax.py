"""Lowerings: softmax family (to be written)."""
