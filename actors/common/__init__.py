"""Code shared by actors (not an actor; listed in ``actors.LIBRARIES``).

* :mod:`actors.common.books`: :class:`Books`, exact average-cost accounting of positions,
  P&L, fees, cash and equity, used by the orchestrator and by the paper broker.
"""

from actors.common.books import BookChange as BookChange
from actors.common.books import Books as Books
from actors.common.books import BooksError as BooksError
from actors.common.books import InvalidFill as InvalidFill

__all__ = ("BookChange", "Books", "BooksError", "InvalidFill")
