"""The public surface of daemon.safety: everything in __all__ exists, the store is a gate."""

from __future__ import annotations

import daemon.safety as safety
from daemon.safety import SafetyGate, SafetyStore


def test_all_names_are_exported() -> None:
    missing = [n for n in safety.__all__ if not hasattr(safety, n)]
    assert missing == []
    assert len(set(safety.__all__)) == len(safety.__all__)


def test_store_implements_the_gate_protocol() -> None:
    assert issubclass(SafetyStore, SafetyGate)
