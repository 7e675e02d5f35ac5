"""The journal actor: every input and decision appended to disk, off the hot path.

Two receive tasks drain lossless subscriptions (the ``market`` topic and the ``events``
topic) and encode each message straight into an in-memory chunk — a few hundred
nanoseconds of msgspec and CRC-32 per message, no I/O, no awaits. A writer task hands
the chunks to a worker thread (:class:`~daemon.journal.SegmentWriter`) when
``batch_bytes`` are buffered or the oldest frame has waited ``flush_interval_s``, and
fsyncs each batch. So the trading actors never wait for the disk: the subscriptions
only fill if encoding itself falls behind, which it does not at any realistic rate
(BENCH=replay measures it).

If the disk fails, batches are retried every ``retry_s`` with an alert; frames keep
accumulating in memory up to ``max_buffer_bytes``, after which new frames are dropped
(trading is never held up by the journal), counted, alerted on, and a GAP frame marks
the hole so a replay knows the journal is incomplete there.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, final

import anyio
import msgspec
from anyio.abc import TaskStatus

from config.settings import Settings
from daemon import names
from daemon.actor import Actor, ActorContext
from daemon.bus import Subscription, Topic
from daemon.clock import NS_PER_S
from daemon.journal import Chunk, JournalGap, JournalHeader, Kind, SegmentWriter, append_frame
from daemon.messages import (
    Alert,
    Bar,
    ControlCommand,
    ExecutionRecord,
    ExitIntent,
    Fill,
    FusionRecord,
    Heartbeat,
    KillSwitchEvent,
    MarketBatch,
    OrderIntent,
    OrderUpdate,
    PositionUpdate,
    RegimeUpdate,
    RiskDecision,
    Severity,
    SignalRecord,
    SignalRejected,
    SignalVerdict,
    SourceWeights,
    Tick,
    TradeClosed,
    TradingModeChanged,
)
from daemon.redaction import configured_secrets
from daemon.safety import SessionCalendar

SUBSCRIBER = "journal"

MARKET_TYPES: tuple[type[Any], ...] = (Tick, Bar, MarketBatch)
INPUT_EVENT_TYPES: tuple[type[Any], ...] = (
    SignalVerdict,
    SignalRejected,
    ControlCommand,
    Heartbeat,
    OrderUpdate,
    Fill,
)
DECISION_TYPES: tuple[type[Any], ...] = (
    SignalRecord,
    FusionRecord,
    RiskDecision,
    OrderIntent,
    ExecutionRecord,
    ExitIntent,
    PositionUpdate,
    TradeClosed,
    KillSwitchEvent,
    TradingModeChanged,
    RegimeUpdate,
    SourceWeights,
)
"""Outputs journalled so a replay can check it reproduced them."""

_SECRET_KEYS = ("password", "secret", "token", "api_key", "apikey")
try:
    _VERSION = importlib.metadata.version("tradingd")
except importlib.metadata.PackageNotFoundError:  # running from a source tree
    _VERSION = "0+unknown"
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def event_kind(event: object) -> Kind | None:
    """The journal kind of an ``events``-topic message (None: not journalled)."""
    if isinstance(event, SignalVerdict):
        return Kind.SIGNAL if event.stage == "guard" else Kind.DECISION
    if isinstance(event, (OrderUpdate, Fill)):
        return Kind.BROKER
    if isinstance(event, ControlCommand):
        return Kind.CONTROL
    if isinstance(event, Heartbeat):
        return Kind.TIMER
    if isinstance(event, SignalRejected):
        return Kind.REJECTED
    if isinstance(event, DECISION_TYPES):
        return Kind.DECISION
    return None


def redact(value: Any, secrets: Sequence[str] = ()) -> Any:
    """``value`` (plain settings data) with passwords and tokens replaced by ``***``.

    Keys that name a secret are blanked, URL passwords masked, and every credential in
    ``secrets`` (from :func:`daemon.redaction.configured_secrets`, which also knows
    ``redis://:password@`` URLs and webhook path tokens) is masked wherever it appears.
    """
    if isinstance(value, dict):
        return {
            k: "***" if any(s in k.lower() for s in _SECRET_KEYS) and v else redact(v, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v, secrets) for v in value]
    if isinstance(value, str):
        out = _URL_PASSWORD.sub(r"\1***@", value)
        for secret in secrets:
            if secret:
                out = out.replace(secret, "***")
        return out
    return value


def subscription(topic: Topic[Any], types: tuple[type[Any], ...]) -> Subscription[Any]:
    """The journal's lossless subscription to ``topic`` (a restarted journal takes over
    its predecessor's buffer: subscriptions are keyed by name)."""
    return topic.subscribe(SUBSCRIBER, types=types, lossless=True)


def journal_dir(settings: Settings) -> Path:
    """Where the journal of ``settings`` lives."""
    return Path(settings.journal.dir or Path(settings.daemon.state_dir) / "journal")


@dataclass
class JournalStats:
    """Counters of the journal actor (status, metrics, tests)."""

    frames: int = 0
    """Frames encoded."""
    written_frames: int = 0
    written_bytes: int = 0
    batches: int = 0
    buffered_bytes: int = 0
    dropped: int = 0
    """Frames dropped because the buffer was full (the disk failed for too long)."""
    write_errors: int = 0
    last_write_s: float = 0.0
    """Wall time of the last batch write, fsync included (in the worker thread)."""
    segment: str = ""


@final
class JournalActor(Actor):
    """Appends every input and decision to the journal; see the module docstring."""

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        s = ctx.settings
        self.cfg = s.journal
        self.account = s.daemon.account
        self.directory = journal_dir(s)
        self.calendar = SessionCalendar(s.daemon.timezone, s.safety.session_boundary)
        self._settings_doc = redact(msgspec.to_builtins(s), configured_secrets(s))
        events_types = INPUT_EVENT_TYPES + (DECISION_TYPES if self.cfg.decisions else ())
        self.event_sub = subscription(self.bus.topic(names.EVENTS), events_types)
        self.market_sub = (
            subscription(self.bus.topic(names.MARKET), MARKET_TYPES)
            if self.cfg.market_data
            else None
        )
        self.events: Topic[Any] = self.bus.topic(names.EVENTS)
        self.stats = JournalStats()
        self.writer = SegmentWriter(
            self.directory,
            self._header,
            fsync=self.cfg.fsync == "batch",
            max_segment_bytes=self.cfg.max_segment_bytes,
            keep_days=self.cfg.keep_days,
        )
        self._limiter = anyio.CapacityLimiter(1)
        self._chunks: list[Chunk] = []
        self._buffered = 0
        self._first_ns = 0
        self._seq = 0
        self._day = ""
        self._day_ends = 0
        self._gap: tuple[int, int, int] | None = None
        self._kick = anyio.Event()
        self._sleep: anyio.CancelScope | None = None
        self._idle = anyio.Event()
        self._idle.set()
        self._broken = False

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Drain the subscriptions and write batches until cancelled."""
        await anyio.to_thread.run_sync(self._prepare_dir)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._drain, self.event_sub, event_kind)
                if self.market_sub is not None:
                    tg.start_soon(self._drain, self.market_sub, _market_kind)
                tg.start_soon(self._write_loop)
                task_status.started()
        finally:
            with anyio.CancelScope(shield=True):
                await self._write_now()
                await anyio.to_thread.run_sync(self.writer.close, limiter=self._limiter)

    async def on_stop(self) -> None:
        """Write everything buffered (the bus has drained) and fsync it."""
        await self._write_now()

    # -- receiving ---------------------------------------------------------------------------

    async def _drain(
        self, sub: Subscription[Any], kind_of: Callable[[object], Kind | None]
    ) -> None:
        while True:
            batch = await self.next_batch(sub)
            now = self.clock.now_ns()
            for event in batch:
                kind = kind_of(event)
                if kind is None:
                    continue
                # Journal time for every kind: frames are then in time order, in the
                # order the daemon's actors were handed them.
                self._append(kind, now, event)
            self._maybe_kick()

    def _append(self, kind: Kind, ts: int, event: object) -> None:
        if self._buffered >= self.cfg.max_buffer_bytes:
            self._drop(ts)
            return
        if ts >= self._day_ends or not self._chunks:
            self._roll(ts)
        chunk = self._chunks[-1]
        if self._gap is not None:
            dropped, first, last = self._gap
            self._gap = None
            gap = JournalGap(dropped=dropped, first_ns=first, last_ns=last, reason="buffer full")
            self._buffered += append_frame(chunk.data, self._seq, ts, Kind.GAP, gap)
            self._seq += 1
            chunk.frames += 1
        try:
            n = append_frame(chunk.data, self._seq, ts, kind, event)
        except Exception as exc:  # an unencodable message must not stop the journal
            self.log.error(
                "message not journalled",
                extra={"event": "journal_encode_failed", "kind": str(kind), "error": repr(exc)},
            )
            return
        self._seq += 1
        chunk.frames += 1
        self._buffered += n
        self.stats.frames += 1
        if self._first_ns == 0:
            self._first_ns = self.clock.now_ns() or 1

    def _roll(self, ts: int) -> None:
        day = self.calendar.trading_day(ts)
        self._day_ends = self.calendar.next_boundary_ns(ts)
        if not self._chunks or day != self._day:
            self._day = day
            self._chunks.append(Chunk(day))

    def _drop(self, ts: int) -> None:
        self.stats.dropped += 1
        if self._gap is None:
            self._gap = (1, ts, ts)
        else:
            self._gap = (self._gap[0] + 1, self._gap[1], ts)
        if self.stats.dropped & (self.stats.dropped - 1) == 0:
            self.log.error(
                "journal buffer full: frames dropped",
                extra={"event": "journal_dropped", "dropped": self.stats.dropped},
            )

    def _maybe_kick(self) -> None:
        self.stats.buffered_bytes = self._buffered
        self._kick.set()
        if self._buffered >= self.cfg.batch_bytes and self._sleep is not None:
            self._sleep.cancel()

    # -- writing -----------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        interval = int(self.cfg.flush_interval_s * NS_PER_S)
        while True:
            if not self._chunks:
                self._kick = anyio.Event()
                await self._kick.wait()
                continue
            if self._buffered < self.cfg.batch_bytes and not self._broken:
                # Let the batch fill up until its oldest frame is due.
                deadline = self._first_ns + interval
                if self.clock.now_ns() < deadline:
                    with anyio.CancelScope() as scope:
                        self._sleep = scope
                        await self.clock.sleep_until(deadline)
                    self._sleep = None
            if not await self._write_now():
                await self.clock.sleep(self.cfg.retry_s)

    async def _write_now(self) -> bool:
        """Hand everything buffered to the worker thread; False if the write failed."""
        if not self._chunks:
            return True
        await self._idle.wait()
        chunks, self._chunks = self._chunks, []
        size, frames = self._buffered, sum(c.frames for c in chunks)
        self._buffered = 0
        self._first_ns = 0
        self._idle = anyio.Event()
        try:
            elapsed = await anyio.to_thread.run_sync(self._write, chunks, limiter=self._limiter)
        except OSError as exc:
            # Put them back in front of whatever arrived meanwhile, in order.
            self._requeue(chunks, size)
            self.stats.write_errors += 1
            await self._failed(str(exc))
            return False
        finally:
            self._idle.set()
        self.stats.written_frames += frames
        self.stats.written_bytes += size
        self.stats.batches += 1
        self.stats.last_write_s = elapsed
        self.stats.buffered_bytes = self._buffered
        if self.writer.path is not None:
            self.stats.segment = self.writer.path.name
        if self._broken:
            self._broken = False
            self.log.warning("journal writes work again", extra={"event": "journal_recovered"})
            await self._alert(Severity.INFO, "journal_recovered", "journal writes work again")
        return True

    def _write(self, chunks: list[Chunk]) -> float:
        t0 = time.perf_counter()
        self.writer.write(chunks)
        return time.perf_counter() - t0

    def _requeue(self, chunks: list[Chunk], size: int) -> None:
        if self._chunks and chunks and self._chunks[0].day == chunks[-1].day:
            chunks[-1].data.extend(self._chunks[0].data)
            chunks[-1].frames += self._chunks[0].frames
            self._chunks.pop(0)
        self._chunks = chunks + self._chunks
        self._buffered += size
        if self._first_ns == 0:
            self._first_ns = self.clock.now_ns() or 1

    async def _failed(self, error: str) -> None:
        self.log.error(
            "journal write failed; retrying",
            extra={"event": "journal_write_failed", "error": error, "dir": str(self.directory)},
        )
        if not self._broken:
            self._broken = True
            await self._alert(
                Severity.ERROR,
                "journal_write_failed",
                f"journal in {self.directory} cannot be written ({error}); frames are held in "
                f"memory up to {self.cfg.max_buffer_bytes} bytes and retried every "
                f"{self.cfg.retry_s:g}s",
            )

    # -- files -------------------------------------------------------------------------------

    def _prepare_dir(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def _header(self, day: str, number: int) -> bytes:
        buf = bytearray()
        header = JournalHeader(
            account=self.account,
            day=day,
            segment=number,
            started_ns=self.clock.now_ns(),
            pid=os.getpid(),
            version=_VERSION,
            settings=self._settings_doc,
        )
        append_frame(buf, -1, header.started_ns, Kind.HEADER, header)
        return bytes(buf)

    async def _alert(self, severity: Severity, code: str, text: str) -> None:
        now = self.clock.now_ns()
        await self.events.publish(
            Alert(alert_id=f"journal-{code}-{now}", severity=severity, code=code, text=text, ts=now)
        )


def _market_kind(event: object) -> Kind:
    return Kind.MARKET
