"""``[supervisor]`` and ``[actors]``: restart policy and which optional actors run."""

from __future__ import annotations

from config.sections._base import NonNegFloat, PosFloat, PosInt, Section


class RestartPolicySettings(Section, frozen=True, kw_only=True):
    """One-for-one restart: backoff between restarts and the restart intensity."""

    max_restarts: PosInt = 5
    """Restarts allowed within ``window_s`` before the supervisor escalates."""
    window_s: PosFloat = 60.0
    backoff_initial_s: NonNegFloat = 0.1
    backoff_max_s: PosFloat = 10.0
    backoff_jitter: NonNegFloat = 0.1
    """Fraction of the backoff added at random (seeded) to spread restarts."""


class ActorsSettings(Section, frozen=True, kw_only=True):
    """Optional actors to run, and per-actor restart policies."""

    enabled: list[str] = []
    """Optional actors to enable by name (core actors always run)."""
    disabled: list[str] = []
    """Optional actors to keep off even if enabled by default."""
    restart: RestartPolicySettings = RestartPolicySettings()
    overrides: dict[str, RestartPolicySettings] = {}
