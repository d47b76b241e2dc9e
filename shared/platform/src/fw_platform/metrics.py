"""Prometheus metrics. Labels are static names only: never ids or personal data."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_HANDLED = Counter("fw_events_handled_total", "Events handled by a consumer", ["consumer", "event_type"])
EVENTS_DUPLICATE = Counter("fw_events_duplicate_total", "Redelivered events skipped (already handled)", ["consumer"])
EVENTS_REDELIVERED = Counter("fw_events_redelivered_total", "Events nak'ed for a later retry", ["consumer", "kind"])
EVENTS_PARKED = Counter("fw_events_parked_total", "Messages parked with a reason", ["consumer", "kind"])
EVENTS_PUBLISHED = Counter("fw_events_published_total", "Events published by the outbox relay", ["service"])
OUTBOX_DEPTH = Gauge("fw_outbox_depth", "Events waiting in the outbox", ["service"])
HTTP_LATENCY = Histogram("fw_http_request_seconds", "HTTP request latency", ["service", "route", "method", "status"])
ERASURE_DELAY = Histogram("fw_erasure_delay_seconds", "Delay from erasure trigger to erasure",
                          buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30, 60, 600, 3600, 86400))
#: Parked messages not yet resolved, per service, consumer and reason code: alert when above 0.
#: Counted up when a message is parked and set from ``dead_letters`` on every scrape, so it
#: survives restarts and falls when staff resolve a row.
PARKED_MESSAGES = Gauge("fw_parked_messages", "Parked messages not yet resolved",
                        ["service", "consumer", "reason"])
#: The fetch loop restarted after an error (NATS away, a bug): a message must never cause one.
CONSUMER_RESTARTS = Counter("fw_consumer_restarts_total", "Consumer fetch loop restarts after an error", ["consumer"])
