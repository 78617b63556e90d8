"""Prometheus metrics of the gateway (no message text, no ids in labels)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES = Counter(
    "rota_messages_total", "Messages handled", ["channel", "direction"], registry=REGISTRY
)
ESCALATIONS = Counter(
    "rota_escalations_total",
    "Conversations sent to a person",
    ["reason", "source"],
    registry=REGISTRY,
)
ENGINE_ERRORS = Counter(
    "rota_engine_errors_total", "Messages the Rasa engine could not answer", registry=REGISTRY
)
ENGINE_NO_REPLY = Counter(
    "rota_engine_no_reply_total",
    "Messages Rasa took but answered with nothing (a reply it could not render is lost)",
    registry=REGISTRY,
)
HANDLE_SECONDS = Histogram(
    "rota_handle_seconds",
    "Time to answer one inbound message",
    ["channel"],
    registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DELIVERIES = Counter(
    "rota_deliveries_total",
    "Reply parts sent through a channel, by result",
    ["channel", "status"],
    registry=REGISTRY,
)
WEBHOOK_REJECTED = Counter(
    "rota_webhook_rejected_total",
    "Webhook calls refused (bad or missing signature or secret)",
    ["channel"],
    registry=REGISTRY,
)
DUPLICATES = Counter(
    "rota_duplicate_deliveries_total",
    "Inbound messages delivered again by a provider and ignored",
    ["channel"],
    registry=REGISTRY,
)
OUTBOX_DEPTH = Gauge(
    "rota_outbox_depth", "Replies waiting in the outbox (all replicas)", registry=REGISTRY
)
OUTBOX_RETRIES = Counter(
    "rota_outbox_retries_total",
    "Sends put off for later (rate limit, outage), by channel and reason",
    ["channel", "reason"],
    registry=REGISTRY,
)
QUEUE_WAIT_SECONDS = Histogram(
    "rota_queue_wait_seconds",
    "Time from escalation until a caseworker claimed the conversation",
    registry=REGISTRY,
    buckets=(10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600),
)
ENGINE_BACKLOG = Gauge(
    "rota_engine_backlog",
    "Conversations with messages stored while the Rasa engine was down, not answered yet",
    registry=REGISTRY,
)
SPOOLED = Counter(
    "rota_spooled_total",
    "Verified messages kept in Redis because the database was down (replayed later)",
    ["channel"],
    registry=REGISTRY,
)
