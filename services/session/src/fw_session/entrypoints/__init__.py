"""Thin edges: HTTP routes (validate, call the use case, map the result)."""
