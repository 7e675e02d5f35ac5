"""The one way kernels are compiled: ``@njit(cache=True, nogil=True)``, typed for mypy.

Every kernel goes through :func:`kernel` so that the compilation options cannot drift
between modules and so that :func:`actors.kernels.warm_up` can find every kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from numba import njit

F = TypeVar("F", bound=Callable[..., Any])

COMPILED: dict[str, Any] = {}
"""Every public kernel by name (numba dispatchers), for warm-up and introspection."""


def kernel(fn: F) -> F:
    """Compile ``fn`` lazily with the project's options and register it for warm-up.

    ``cache=True`` writes the machine code next to the source (or under
    ``NUMBA_CACHE_DIR``) so a restart loads it instead of compiling; ``nogil=True``
    lets a caller run a long kernel in a worker thread without holding up the loop.
    """
    dispatcher = njit(cache=True, nogil=True)(fn)
    COMPILED[fn.__name__] = dispatcher
    return cast(F, dispatcher)


def helper(fn: F) -> F:
    """Compile an internal function called from kernels (compiled with its caller)."""
    return cast(F, njit(cache=True, nogil=True)(fn))
