"""Use cases: create and withdraw a request, react to session and erasure events."""
