"""Reporting: application layer."""
