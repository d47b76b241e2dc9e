"""Use cases: event handlers for the queue and the technician's commands."""
