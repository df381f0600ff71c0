"""Planner passes: small, pure Graph -> Graph functions, each stating its invariant."""
