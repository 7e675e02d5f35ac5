"""What the safety state file holds, and its on-disk form.

The file is a msgpack :class:`Envelope`: a format name, a format version, the SHA-256 of
the body, and the body — the msgpack form of :class:`SafetyState`. The version and the
checksum are checked before the body is trusted, so a truncated, overwritten or foreign
file is recognised and named (:class:`StateFileError`) instead of half-read.

Accounting figures are ``Decimal`` (stored as text, exact); times are int nanoseconds.
New fields get defaults, so older files of the same version still decode; a change
that old readers cannot take bumps :data:`FORMAT_VERSION`.
"""

from __future__ import annotations

import enum
import hashlib
from decimal import Decimal

import msgspec

from daemon.messages import ZERO, TradingMode

__all__ = (
    "FORMAT",
    "FORMAT_VERSION",
    "BreakerRecord",
    "DayRecord",
    "DayTrade",
    "Envelope",
    "KillRecord",
    "ModeRecord",
    "ResetRecord",
    "SafetyState",
    "StateDamage",
    "StateFileError",
    "decode_state",
    "encode_state",
)

FORMAT = "tradingd.safety"
"""Format name written in every envelope."""
FORMAT_VERSION = 1
"""The only version this build reads and writes."""


class KillRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The kill switch: engaged or not, why, what engaged it, who, and when."""

    engaged: bool = False
    reason: str = ""
    trigger: str = ""
    """A :class:`~daemon.safety.api.KillTrigger` value."""
    by: str = ""
    since_ns: int = 0
    flatten: bool = False
    """Whether engaging asked for every position to be closed."""


class ModeRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The trading mode and the last change to it."""

    mode: TradingMode = TradingMode.RUNNING
    reason: str = ""
    by: str = ""
    since_ns: int = 0


class DayRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The trading day and its figures (reset at the session boundary)."""

    trading_day: str = ""
    """ISO date of the trading day (see :mod:`daemon.safety.calendar`)."""
    start_equity: Decimal = ZERO
    """Equity at the start of the day; 0 until the first account figure arrives."""
    realized_pnl: Decimal = ZERO
    """Sum of the P&L of trades closed today, as the books report it."""
    trade_count: int = 0
    breaker_trips: int = 0
    """Times the circuit breaker tripped today."""


class BreakerRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The circuit breaker: the current losing streak and the end of its cooldown."""

    consecutive_losses: int = 0
    cooldown_until_ns: int = 0


class DayTrade(msgspec.Struct, frozen=True, kw_only=True):
    """One round trip opened and closed in the same trading day (the PDT ledger)."""

    day: str
    symbol: str
    trade_id: str


class ResetRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The last reset of the kill switch (audit; the full history is in the events)."""

    reason: str
    by: str
    forced: bool
    trigger: str
    """What had engaged the switch that this reset released."""
    overridden: tuple[str, ...] = ()
    """Conditions still holding that a forced reset overrode."""
    ts_ns: int


class SafetyState(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the safety state file holds."""

    seq: int = 0
    """Incremented on every write: the newest state has the highest number."""
    written_ns: int = 0
    account: str = ""
    """The trading account this state belongs to (``daemon.account``)."""
    kill: KillRecord = KillRecord()
    mode: ModeRecord = ModeRecord()
    day: DayRecord = DayRecord()
    breaker: BreakerRecord = BreakerRecord()
    day_trades: tuple[DayTrade, ...] = ()
    """The PDT ledger, oldest first, trimmed to ``safety.pdt_window_days``."""
    last_reset: ResetRecord | None = None


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """The outer, version-independent layer of the file."""

    format: str
    version: int
    sha256: bytes
    body: bytes


class StateDamage(enum.StrEnum):
    """Why the state file could not be used (each starts the daemon killed)."""

    MISSING_DIR = "missing_dir"
    UNREADABLE = "unreadable"
    TRUNCATED = "truncated"
    GARBAGE = "garbage"
    CHECKSUM = "checksum"
    VERSION = "version"
    ACCOUNT = "account"
    NOT_WRITABLE = "not_writable"
    LOCKED = "locked"


class StateFileError(Exception):
    """Raised when the state file cannot be used; ``damage`` says which way it failed."""

    def __init__(self, damage: StateDamage, detail: str) -> None:
        self.damage = damage
        self.detail = detail
        super().__init__(detail)


_encoder = msgspec.msgpack.Encoder(decimal_format="string")
_envelope_decoder = msgspec.msgpack.Decoder(Envelope)
_state_decoder = msgspec.msgpack.Decoder(SafetyState)


def encode_state(state: SafetyState) -> bytes:
    """The complete file content for ``state``."""
    body = _encoder.encode(state)
    env = Envelope(
        format=FORMAT, version=FORMAT_VERSION, sha256=hashlib.sha256(body).digest(), body=body
    )
    return _encoder.encode(env)


def decode_state(data: bytes, *, path: str = "state file") -> SafetyState:
    """Check and decode a file's content; raises :class:`StateFileError` naming the damage."""
    if not data:
        raise StateFileError(StateDamage.TRUNCATED, f"{path} is empty (0 bytes)")
    try:
        env = _envelope_decoder.decode(data)
    except msgspec.DecodeError as exc:
        if "truncated" in str(exc):
            raise StateFileError(
                StateDamage.TRUNCATED, f"{path} is truncated ({len(data)} bytes): {exc}"
            ) from exc
        raise StateFileError(
            StateDamage.GARBAGE, f"{path} is not a safety state file (undecodable: {exc})"
        ) from exc
    except (msgspec.ValidationError, ValueError) as exc:
        # ValueError: msgspec lets UnicodeDecodeError out for invalid UTF-8 in a string.
        raise StateFileError(
            StateDamage.GARBAGE, f"{path} is not a safety state file ({exc})"
        ) from exc
    if env.format != FORMAT:
        raise StateFileError(
            StateDamage.GARBAGE,
            f"{path} is not a safety state file (format {env.format[:40]!r}, expected {FORMAT!r})",
        )
    if env.version != FORMAT_VERSION:
        raise StateFileError(
            StateDamage.VERSION,
            f"{path} has format version {env.version}; this build reads version "
            f"{FORMAT_VERSION} only (written by a different tradingd release?)",
        )
    digest = hashlib.sha256(env.body).digest()
    if digest != env.sha256:
        raise StateFileError(
            StateDamage.CHECKSUM,
            f"{path} fails its checksum (stored sha256 {env.sha256.hex()[:16]}..., "
            f"computed {digest.hex()[:16]}...): the content was altered or damaged",
        )
    try:
        return _state_decoder.decode(env.body)
    except (msgspec.DecodeError, ValueError) as exc:
        # The checksum matched, so this is a writer bug or a same-version schema clash,
        # not disk damage; still nothing we can trust.
        raise StateFileError(
            StateDamage.GARBAGE, f"{path} has a valid checksum but an invalid body: {exc}"
        ) from exc
