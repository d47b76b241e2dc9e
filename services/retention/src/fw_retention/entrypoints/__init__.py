"""Entrypoints: the vault's NATS responder and the HTTP routes."""
