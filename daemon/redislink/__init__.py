"""tradingd's Redis edge: key layout, event envelope, reconnecting links.

Used by the Redis actors (signal and market ingest, event publisher, the alert bridge's
Redis sink) and by ``tradingctl watch``. The layout and payloads are documented for
subscribers in docs/redis.md.
"""

from daemon.redislink._envelope import Envelope as Envelope
from daemon.redislink._envelope import EnvelopeWriter as EnvelopeWriter
from daemon.redislink._envelope import decode_envelope as decode_envelope
from daemon.redislink._envelope import decode_event as decode_event
from daemon.redislink._envelope import kind_of as kind_of
from daemon.redislink._errors import RedisUnavailable as RedisUnavailable
from daemon.redislink._errors import describe as describe
from daemon.redislink._errors import is_transient as is_transient
from daemon.redislink._keys import RedisKeys as RedisKeys
from daemon.redislink._keys import is_pattern as is_pattern
from daemon.redislink._link import RedisLink as RedisLink
from daemon.redislink._link import create_client as create_client
from daemon.redislink._payloads import MAX_PAYLOAD_BYTES as MAX_PAYLOAD_BYTES
from daemon.redislink._payloads import StreamEntry as StreamEntry
from daemon.redislink._payloads import claimed_entries as claimed_entries
from daemon.redislink._payloads import decode_market as decode_market
from daemon.redislink._payloads import decode_signal as decode_signal
from daemon.redislink._payloads import fields_as_json as fields_as_json
from daemon.redislink._payloads import read_entries as read_entries
from daemon.redislink._payloads import write_dead_letter as write_dead_letter
from daemon.redislink._pubsub import Subscriber as Subscriber

__all__ = (
    "MAX_PAYLOAD_BYTES",
    "Envelope",
    "EnvelopeWriter",
    "RedisKeys",
    "RedisLink",
    "RedisUnavailable",
    "StreamEntry",
    "Subscriber",
    "claimed_entries",
    "create_client",
    "decode_envelope",
    "decode_event",
    "decode_market",
    "decode_signal",
    "describe",
    "fields_as_json",
    "is_pattern",
    "is_transient",
    "kind_of",
    "read_entries",
    "write_dead_letter",
)
