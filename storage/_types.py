"""Column types shared by the models: exact decimals and nanosecond times.

Money and quantities are ``NUMERIC`` on PostgreSQL (unconstrained, exact). SQLite has no
exact decimal: a column declared NUMERIC converts ``'0.1'`` to a binary float and keeps
only 15 significant digits, so there the same column is ``TEXT`` holding the decimal's
string form, and it is read back as :class:`~decimal.Decimal`. Sums over these columns are
therefore computed in Python (see :mod:`storage.queries`), never by SQLite.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

NANOS = sa.BigInteger()
"""Times: integer nanoseconds since the Unix epoch, UTC (as in the message catalogue)."""


def decimal_column_type() -> TypeEngine[Any]:
    """The DDL type of an exact decimal column (``NUMERIC``, or ``TEXT`` on SQLite)."""
    return sa.Numeric(asdecimal=True).with_variant(sa.Text(), "sqlite")


class ExactDecimal(TypeDecorator[Decimal]):
    """An exact decimal: ``NUMERIC`` on PostgreSQL, decimal text on SQLite."""

    impl = sa.Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """``TEXT`` on SQLite (exact), ``NUMERIC`` returning ``Decimal`` elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Text())
        return dialect.type_descriptor(sa.Numeric(asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        """Decimals go to SQLite as their exact string form."""
        if value is None or dialect.name != "sqlite":
            return value
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Whatever the driver returns becomes an exact ``Decimal``."""
        if value is None or isinstance(value, Decimal):
            return value
        return Decimal(str(value))
