"""Adapters: the services' HTTP APIs and the users file."""
