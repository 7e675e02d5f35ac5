"""tradingd's SQL storage: models, engine, migrations, the event store, spool and queries.

Public surface (implementation lives in private modules)::

    Database            engine + backend for a ``[storage]`` section
    EventStore          writes prepared events: projections + audit chain, one tx a batch
    Projector/Prepared  catalogue event -> canonical payload, idempotency key, rows
    Spool               local append-only, checksummed, segmented spool
    migrate             upgrade / downgrade / schema_status / ensure_schema
    audit               verify_chain and the chain's hashing rules
    queries             reports, admin socket, ``tradingd trace``
    models              the SQLAlchemy 2 models

See docs/storage.md and docs/audit.md.
"""

from storage._engine import Database as Database
from storage._errors import AuditChainBroken as AuditChainBroken
from storage._errors import SchemaMismatch as SchemaMismatch
from storage._errors import SpoolCorrupt as SpoolCorrupt
from storage._errors import SpoolError as SpoolError
from storage._errors import StorageError as StorageError
from storage._errors import StorageRejected as StorageRejected
from storage._errors import StorageUnavailable as StorageUnavailable
from storage.projection import STORED_TYPES as STORED_TYPES
from storage.projection import Prepared as Prepared
from storage.projection import Projector as Projector
from storage.spool import Spool as Spool
from storage.spool import SpoolProblem as SpoolProblem
from storage.store import EventStore as EventStore
from storage.store import WriteResult as WriteResult

__all__ = (
    "STORED_TYPES",
    "AuditChainBroken",
    "Database",
    "EventStore",
    "Prepared",
    "Projector",
    "SchemaMismatch",
    "Spool",
    "SpoolCorrupt",
    "SpoolError",
    "SpoolProblem",
    "StorageError",
    "StorageRejected",
    "StorageUnavailable",
    "WriteResult",
)
