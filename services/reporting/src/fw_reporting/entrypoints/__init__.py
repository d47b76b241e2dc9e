"""Reporting: entrypoints layer."""
