"""Storage writer actor (core): every domain event into the SQL database, in batches,
with a local spool when the database is down. See docs/storage.md.
"""

from actors.storage_writer._actor import SUBSCRIBER as SUBSCRIBER
from actors.storage_writer._actor import StorageWriter as StorageWriter
from actors.storage_writer._actor import writer_subscription as writer_subscription
from actors.storage_writer._stats import WriterStats as WriterStats
from daemon.actor import ActorDefinition

DEFINITION = ActorDefinition(
    name="storage_writer",
    factory=StorageWriter,
    description="records every domain event in the database (spools while it is down)",
    core=True,
)

__all__ = ("DEFINITION", "SUBSCRIBER", "StorageWriter", "WriterStats", "writer_subscription")
