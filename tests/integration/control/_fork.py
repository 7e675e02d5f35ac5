"""Run a small function as another user in a forked child (the test suite runs as root).

The child inherits the loaded interpreter (the virtual environment may not be readable
by the other user), drops to ``uid``/``gid``, runs ``fn`` and reports its return value
and whatever it wrote to stderr through a pipe.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable

import msgspec
import pytest

NOBODY = 65534

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="switching to another user needs root (the suite runs as root in CI)"
)


def run_as(uid: int, gid: int, fn: Callable[[], int]) -> tuple[int, str]:
    """``fn()``'s return value and stderr text, run as ``uid:gid`` with no other groups."""
    rd, wr = os.pipe()
    err_rd, err_wr = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into the test runner
        code = 99
        try:
            os.close(rd)
            os.close(err_rd)
            os.dup2(err_wr, 2)
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115 - lives until _exit
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            code = fn()
        except BaseException:
            os.write(2, traceback.format_exc().encode())
        finally:
            sys.stderr.flush()
            os.write(wr, msgspec.json.encode(code))
            os._exit(0)
    os.close(wr)
    os.close(err_wr)
    with os.fdopen(rd, "rb") as r, os.fdopen(err_rd, "rb") as e:
        err = e.read().decode(errors="replace")  # stderr first: it closes only at exit
        result = r.read()
    os.waitpid(pid, 0)
    code = msgspec.json.decode(result, type=int)
    return code, err
