"""``make bench``: throughput, latency, replay speed and footprint, beside the bus's own limits.

Run ``python -m bench`` from the repository root (``--quick`` for a short smoke run). Every
figure is measured in the same run on the same machine, against private NATS and PostgreSQL
servers that the bench starts and stops itself.
"""
