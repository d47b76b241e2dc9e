"""Reporting: domain layer."""
