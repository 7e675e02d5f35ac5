"""Socket tests fail on any connection-level error the server had to swallow."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

SWALLOWED = {"control_connection_error", "control_accept_failed"}


@pytest.fixture(autouse=True)
def _no_swallowed_connection_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    # The server catches everything a connection raises so the daemon survives; a test
    # passing while that happened would hide a bug, so it fails here instead.
    yield
    bad = [r for r in caplog.records if getattr(r, "event", "") in SWALLOWED]
    assert not bad, [f"{r.getMessage()}: {r.exc_text or ''}" for r in bad]
