"""Adapters: envelope encryption, the PostgreSQL store, reading the event stream."""
