"""Redis signal ingest: a Stream through a consumer group, plus a pub/sub channel.

Decoded signals go to the signal guard (``guard.in``); a stream entry is acknowledged
once its outcome is recorded: the guard's rejection, or the orchestrator's rejection or
order intent for an accepted signal. Enabled when ``redis.url`` is set. See docs/redis.md.
"""

from actors.redis_signals._actor import RedisSignalIngest as RedisSignalIngest
from actors.redis_signals._actor import SignalIngestStats as SignalIngestStats
from daemon.actor import ActorDefinition

DEFINITION = ActorDefinition(
    name="redis_signals",
    factory=RedisSignalIngest,
    description="signals from a Redis stream (consumer group) and a pub/sub channel",
    core=False,
    # Signals flow only once the guard is ready (itself after reconciliation), and
    # ingest stops before it at shutdown, so every signal read gets its verdict.
    requires=("signal_guard",),
    enabled_when=lambda settings: (
        bool(settings.redis.url)
        and (settings.redis.signals.stream_enabled or settings.redis.signals.pubsub_enabled)
    ),
)

__all__ = ("DEFINITION", "RedisSignalIngest", "SignalIngestStats")
