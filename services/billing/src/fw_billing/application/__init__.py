"""Handlers: what billing does when an event arrives, written against ports."""
