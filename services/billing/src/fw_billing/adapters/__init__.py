"""Adapters: PostgreSQL, the vault, tariff files."""
