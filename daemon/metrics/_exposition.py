"""Rendering a registry: prometheus_client does the format, we only pick which one."""

from __future__ import annotations

from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry


def exposition(registry: CollectorRegistry, accept: str = "") -> tuple[bytes, str]:
    """``(body, content type)``: OpenMetrics when ``accept`` asks for it, else text 0.0.4."""
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
