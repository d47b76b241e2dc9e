"""Reporting: adapters layer."""
