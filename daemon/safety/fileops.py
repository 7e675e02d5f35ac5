"""The file-system layer under the safety state, and the atomic write built on it.

Every operation the state file needs goes through :class:`FileOps`, so tests can make
any single step fail the way a real disk does (``ENOSPC`` on write, ``EIO`` on fsync,
``EROFS`` on open) by wrapping :class:`OsFileOps`, the implementation production uses.

:func:`write_atomic` is the only way the state file is ever written: a temporary file in
the same directory, written in full and fsynced, renamed over the old file, then the
directory fsynced so the rename itself survives a power cut. A reader therefore sees
either the old file or the new one, never a mixture.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from typing import Protocol, final, runtime_checkable

__all__ = ("FileOps", "OsFileOps", "tmp_path_for", "write_atomic")


@runtime_checkable
class FileOps(Protocol):
    """The file-system calls the safety state makes (all may raise :class:`OSError`)."""

    def read_bytes(self, path: str) -> bytes:
        """The whole content of ``path``."""
        ...

    def is_dir(self, path: str) -> bool:
        """True when ``path`` is an existing directory."""
        ...

    def exists(self, path: str) -> bool:
        """True when something exists at ``path``."""
        ...

    def makedirs(self, path: str) -> None:
        """Create ``path`` and its parents (mode 0700); fine if it exists."""
        ...

    def open_new(self, path: str) -> int:
        """Create or truncate ``path`` for writing (mode 0600); returns a descriptor."""
        ...

    def write(self, fd: int, data: bytes) -> int:
        """Write some of ``data``; returns how many bytes were written."""
        ...

    def fsync(self, fd: int) -> None:
        """Flush ``fd``'s data and metadata to stable storage."""
        ...

    def close(self, fd: int) -> None:
        """Close ``fd``."""
        ...

    def replace(self, src: str, dst: str) -> None:
        """Atomically rename ``src`` over ``dst``."""
        ...

    def fsync_dir(self, path: str) -> None:
        """Flush directory ``path`` (makes a rename in it durable)."""
        ...

    def unlink(self, path: str) -> None:
        """Remove ``path``."""
        ...

    def lock(self, path: str) -> int:
        """Take an exclusive, non-blocking advisory lock on ``path`` (created if needed).

        Returns the descriptor that holds the lock; raises :class:`BlockingIOError` when
        another process holds it. The lock dies with the process, so a crash frees it.
        """
        ...


@final
class OsFileOps:
    """:class:`FileOps` on the real file system (what the daemon uses)."""

    def read_bytes(self, path: str) -> bytes:
        """The whole content of ``path``."""
        with open(path, "rb") as f:
            return f.read()

    def is_dir(self, path: str) -> bool:
        """True when ``path`` is an existing directory."""
        return os.path.isdir(path)

    def exists(self, path: str) -> bool:
        """True when something exists at ``path``."""
        return os.path.lexists(path)

    def makedirs(self, path: str) -> None:
        """Create ``path`` and its parents (mode 0700); fine if it exists."""
        os.makedirs(path, mode=0o700, exist_ok=True)

    def open_new(self, path: str) -> int:
        """Create or truncate ``path`` for writing (mode 0600)."""
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)

    def write(self, fd: int, data: bytes) -> int:
        """Write some of ``data``."""
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        """Flush ``fd`` to stable storage."""
        os.fsync(fd)

    def close(self, fd: int) -> None:
        """Close ``fd``."""
        os.close(fd)

    def replace(self, src: str, dst: str) -> None:
        """Atomically rename ``src`` over ``dst``."""
        os.replace(src, dst)

    def fsync_dir(self, path: str) -> None:
        """Flush directory ``path``."""
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def unlink(self, path: str) -> None:
        """Remove ``path``."""
        os.unlink(path)

    def lock(self, path: str) -> int:
        """Exclusive non-blocking ``flock`` on ``path``; raises BlockingIOError if held."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise
        return fd


def tmp_path_for(path: str) -> str:
    """The temporary file :func:`write_atomic` uses for ``path`` (same directory)."""
    head, tail = os.path.split(path)
    return os.path.join(head, f".{tail}.tmp")


def write_atomic(ops: FileOps, path: str, data: bytes) -> None:
    """Make ``data`` the durable content of ``path``, all or nothing.

    Raises :class:`OSError` from whichever step failed; the old file is then intact
    (a failure after the rename leaves the new content in place but possibly not yet
    durable, which the next successful write makes good).
    """
    tmp = tmp_path_for(path)
    fd = ops.open_new(tmp)
    try:
        done = 0
        while done < len(data):
            n = ops.write(fd, data[done:] if done else data)
            if n <= 0:  # a zero-length write would loop forever
                raise OSError(errno.EIO, f"short write to {tmp}")
            done += n
        ops.fsync(fd)
    except BaseException:
        ops.close(fd)
        _discard(ops, tmp)
        raise
    ops.close(fd)
    ops.replace(tmp, path)
    ops.fsync_dir(os.path.dirname(path) or ".")


def _discard(ops: FileOps, tmp: str) -> None:
    # Best effort: a leftover temporary file is harmless (it is never read and the next
    # write truncates it), and the error that got us here is the one worth reporting.
    with contextlib.suppress(OSError):
        ops.unlink(tmp)
