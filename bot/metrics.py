"""Prometheus metrics of the gateway (no message text, no ids in labels)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

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
