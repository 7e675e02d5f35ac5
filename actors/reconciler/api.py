"""Asking the reconciler for a run: the ``reconciler`` service and its typed client.

The admin socket's ``reconcile`` command and tests use it::

    report = await ReconcilerClient(bus).run("operator")   # ReconciliationReport

A run that cannot complete (broker unreachable, no answer in time) raises in the caller.
"""

from __future__ import annotations

from typing import Any, final

import msgspec

from daemon import names
from daemon.bus import Bus, Service
from daemon.messages import ReconciliationReport


class RunReconciliation(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Run a reconciliation now; answered with its ReconciliationReport."""

    trigger: str = "operator"
    by: str = ""


@final
class ReconcilerClient:
    """Typed caller of the reconciler service (``names.RECONCILER``)."""

    __slots__ = ("_service",)

    def __init__(self, bus: Bus) -> None:
        self._service: Service[Any, Any] = bus.service(names.RECONCILER)

    async def run(self, trigger: str = "operator", by: str = "") -> ReconciliationReport:
        """Run now (after any run in progress) and return its report."""
        report: ReconciliationReport = await self._service.call(
            RunReconciliation(trigger=trigger, by=by)
        )
        return report
