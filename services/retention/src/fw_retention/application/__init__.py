"""Use cases: vault requests, erasure handlers, the deadline sweep, restore safety, queries."""
