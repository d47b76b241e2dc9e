"""Adapters: PostgreSQL stores and the vault over NATS request/reply."""
