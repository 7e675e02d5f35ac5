"""Redis market data ingest: ticks and bars from pub/sub channels or a stream, batched
onto the ``market`` topic; reports the feed stale when prices stop. Enabled when
``redis.url`` is set. See docs/redis.md.
"""

from actors.redis_market._actor import MarketIngestStats as MarketIngestStats
from actors.redis_market._actor import RedisMarketIngest as RedisMarketIngest
from daemon.actor import ActorDefinition

DEFINITION = ActorDefinition(
    name="redis_market",
    factory=RedisMarketIngest,
    description="ticks and bars from Redis pub/sub channels or a stream, batched",
    core=False,
    # Prices flow once the lifecycle monitor (and, before it, the broker, orchestrator
    # and risk gate) subscribe, so none of them misses the first ticks.
    requires=("lifecycle",),
    enabled_when=lambda settings: (
        bool(settings.redis.url)
        and settings.redis.market.enabled
        and (settings.redis.market.pubsub_enabled or bool(settings.redis.market.stream))
    ),
)

__all__ = ("DEFINITION", "MarketIngestStats", "RedisMarketIngest")
