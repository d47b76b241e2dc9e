"""Thin entrypoints: HTTP routes."""
