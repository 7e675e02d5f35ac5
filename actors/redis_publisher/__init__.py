"""Redis event publisher: every domain event on ``<prefix>:<account>:events:<kind>`` as a
versioned JSON envelope (best effort, shed-and-count). Enabled when ``redis.url`` is
set. See docs/redis.md.
"""

from actors.redis_publisher._actor import PublisherStats as PublisherStats
from actors.redis_publisher._actor import RedisPublisher as RedisPublisher
from daemon.actor import ActorDefinition

DEFINITION = ActorDefinition(
    name="redis_publisher",
    factory=RedisPublisher,
    description="publishes every event on Redis channels for subscribers",
    core=False,
    enabled_when=lambda settings: bool(settings.redis.url) and settings.redis.events.enabled,
)

__all__ = ("DEFINITION", "PublisherStats", "RedisPublisher")
