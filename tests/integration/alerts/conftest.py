"""Redis fixtures shared with the Redis integration tests."""

from tests.integration.redis.conftest import prefix, redis_client, redis_url

__all__ = ("prefix", "redis_client", "redis_url")
