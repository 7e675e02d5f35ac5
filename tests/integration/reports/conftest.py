"""The storage tests' fixtures: each report test runs on SQLite and on PostgreSQL."""

from tests.integration.storage.conftest import backend, db, empty_db

__all__ = ("backend", "db", "empty_db")
