"""The safety state's single writer, which is also the :class:`SafetyGate` actors read.

One :class:`SafetyStore` per daemon, opened by :meth:`Daemon.prepare
<daemon.runtime.Daemon.prepare>` before any actor starts and shared as a resource.
Every change to the kill switch, the trading mode and the day figures goes through it;
everyone else reads :meth:`SafetyStore.snapshot` or asks :meth:`SafetyStore.may_submit`.

Ordering rules that make the switch trustworthy:

* Tightening (engage, pause, stop) takes effect in memory *before* the first await, so
  an entry checked a microsecond later is already refused; then cancels (and flatten)
  go out; then the state is written. A failed write does not undo the tightening.
* Loosening (reset, resume) takes effect only *after* the write is durable: a crash in
  between restarts the daemon still killed, never silently released.
* Writes are serialised by one lock and run in a worker thread, so fsync never stalls
  the event loop; each is a whole-state atomic replace (see :mod:`.fileops`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from typing import Any, final

import anyio
import msgspec

from config.loader import ConfigError
from config.sections.safety import SafetySettings
from config.settings import Settings
from daemon import names
from daemon.bus import Bus, Channel, Subscription, Topic
from daemon.clock import Clock
from daemon.messages import (
    AccountSnapshot,
    Alert,
    BrokerStatus,
    CancelAllOrders,
    ExitReason,
    FlattenAll,
    KillSwitchEvent,
    OrderPurpose,
    PositionUpdate,
    ReconciliationReport,
    Severity,
    TradeClosed,
    TradingMode,
    TradingModeChanged,
)
from daemon.safety.api import KillTrigger, ReplyCode, SafetyReply
from daemon.safety.calendar import CalendarError, SessionCalendar
from daemon.safety.fileops import FileOps, OsFileOps, write_atomic
from daemon.safety.gate import DayFigures, SafetySnapshot
from daemon.safety.rules import rollover
from daemon.safety.state import (
    DayRecord,
    KillRecord,
    ModeRecord,
    ResetRecord,
    SafetyState,
    StateDamage,
    StateFileError,
    decode_state,
    encode_state,
)

__all__ = ("INBOX_TYPES", "SafetyStore")

_log = logging.getLogger("tradingd.safety")

INBOX_TYPES: tuple[type[Any], ...] = (
    TradeClosed,
    PositionUpdate,
    AccountSnapshot,
    BrokerStatus,
    ReconciliationReport,
)
"""The events the safety actor watches for its automatic triggers."""

_replace = msgspec.structs.replace

_DAY_SCOPED = frozenset({KillTrigger.DAILY_LOSS.value, KillTrigger.CIRCUIT_BREAKER.value})
"""Triggers whose conditions end with the trading day."""


@final
class SafetyStore:
    """Owns the safety state file; answers ``may_submit`` and ``snapshot`` in O(1).

    Build it with :meth:`open`. The command methods (:meth:`engage`, :meth:`reset`,
    :meth:`set_mode`) are the kill switch's API; :meth:`trip` and :meth:`clear` are for
    automatic triggers; :meth:`update` applies day-figure rules.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        bus: Bus,
        fileops: FileOps,
        calendar: SessionCalendar,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._bus = bus
        self._ops = fileops
        self.calendar = calendar
        self.path = os.path.join(settings.daemon.state_dir, settings.safety.state_file)
        self._dir = settings.daemon.state_dir
        self._account = settings.daemon.account
        self._events: Topic[Any] = bus.topic(names.EVENTS)
        self._orders: Channel[Any] = bus.channel(names.ORCHESTRATOR_CONTROL)
        self._lifecycle: Channel[Any] = bus.channel(names.LIFECYCLE_CONTROL)
        # fast_acquire: an uncontended kill goes straight to the disk without first
        # yielding to the event loop.
        self._lock = anyio.Lock(fast_acquire=True)
        # A limiter of our own, so a kill's write never queues behind other threads
        # (database drivers, kernels) in anyio's shared default pool.
        self._writer = anyio.CapacityLimiter(1)
        self._lock_fd: int | None = None
        self._state = SafetyState(account=self._account)
        self._writable = True
        self._write_error = ""
        self._write_failures = 0
        self._latches: list[tuple[bool, str]] = []
        """Tightenings in flight: (is a kill, why). They block before the write."""
        self._conditions: dict[KillTrigger, str] = {}
        self._acknowledged: set[KillTrigger] = set()
        self._pending: list[Any] = []
        self._inbox: Subscription[Any] | None = None
        self.damage: StateFileError | None = None
        """Why the state file could not be used at start (None when it could)."""
        self.initialised = False
        """True when this start found no state file and created one."""
        self._block: str | None = None
        self._snapshot = SafetySnapshot()
        self._refresh()

    # -- opening -----------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        clock: Clock,
        bus: Bus,
        fileops: FileOps | None = None,
    ) -> SafetyStore:
        """Load (or initialise) the state file; on any damage, start with the switch engaged.

        Never raises for a bad file or directory — that is a reason to start killed,
        not to crash-loop. Raises :class:`~config.ConfigError` for an unknown time zone or holiday.
        """
        cfg = settings.safety
        try:
            cal = SessionCalendar(settings.daemon.timezone, cfg.session_boundary, cfg.holidays)
        except CalendarError as exc:
            raise ConfigError([str(exc)]) from exc
        store = cls(settings, clock=clock, bus=bus, fileops=fileops or OsFileOps(), calendar=cal)
        await store._load()
        return store

    async def _load(self) -> None:
        now = self._clock.now_ns()
        today = self.calendar.trading_day(now)
        loaded: SafetyState | None = None
        try:
            self._prepare_dir()
        except StateFileError as exc:
            self.damage = exc
        else:
            try:
                self._take_lock()
            except StateFileError as exc:
                self.damage = exc
            try:
                # Read even without the lock, so a daemon that may not write still shows
                # the real figures.
                loaded = self._read()
            except StateFileError as exc:
                if self.damage is None:
                    self.damage = exc
                else:
                    self.damage.detail += f"; also: {exc.detail}"
        if loaded is None:
            loaded = SafetyState(account=self._account, day=DayRecord(trading_day=today))
        if loaded.day.trading_day > today:
            _log.warning(
                "the clock is behind the state file's trading day; keeping its figures",
                extra={"event": "safety_clock_behind", "day": loaded.day.trading_day},
            )
        elif loaded.day.trading_day < today:
            _log.info(
                "trading day rolled over while the daemon was down",
                extra={"event": "safety_rollover", "from": loaded.day.trading_day, "to": today},
            )
            loaded = rollover(loaded, today, equity=None, cal=self.calendar, cfg=self._cfg)
        if self.damage is None or self.damage.damage is not StateDamage.LOCKED:
            self._set_aside_damaged(now)
        state = _replace(loaded, seq=loaded.seq + 1, written_ns=now)
        if self.damage is not None:
            state = _replace(state, kill=self._damage_kill(self.damage, now))
        if self._lock_fd is not None:
            # Writing at every start proves the directory writable now, not at the first
            # kill; a failure here is itself a reason to start killed.
            ok = await self._persist(state)
            if not ok and self.damage is None:
                self.damage = StateFileError(
                    StateDamage.NOT_WRITABLE,
                    f"cannot write the state file {self.path}: {self._write_error}",
                )
                state = _replace(state, kill=self._damage_kill(self.damage, now))
        else:
            self._writable = False
            self._write_error = self.damage.detail if self.damage else "state file not locked"
        self._state = state
        self._refresh()
        self._announce_start(state, now)

    def _prepare_dir(self) -> None:
        if self._ops.is_dir(self._dir):
            return
        if not self._settings.safety.create_state_dir:
            raise StateFileError(
                StateDamage.MISSING_DIR,
                f"state directory {self._dir} does not exist (not mounted? create it, or set "
                f"safety.create_state_dir = true); the last kill-switch state is unknown",
            )
        try:
            self._ops.makedirs(self._dir)
        except OSError as exc:
            raise StateFileError(
                StateDamage.NOT_WRITABLE, f"cannot create state directory {self._dir}: {exc}"
            ) from exc
        _log.info("created state directory", extra={"event": "safety_dir_created"})

    def _take_lock(self) -> None:
        lock_path = self.path + ".lock"
        try:
            self._lock_fd = self._ops.lock(lock_path)
        except BlockingIOError as exc:
            raise StateFileError(
                StateDamage.LOCKED,
                f"state file {self.path} is in use by another tradingd process "
                f"(lock {lock_path} held); this daemon will not write it",
            ) from exc
        except OSError as exc:
            raise StateFileError(
                StateDamage.NOT_WRITABLE, f"cannot lock the state file ({lock_path}): {exc}"
            ) from exc

    def _read(self) -> SafetyState | None:
        if not self._ops.exists(self.path):
            self.initialised = True
            return None
        try:
            data = self._ops.read_bytes(self.path)
        except OSError as exc:
            raise StateFileError(
                StateDamage.UNREADABLE, f"cannot read state file {self.path}: {exc}"
            ) from exc
        state = decode_state(data, path=self.path)
        if state.account and state.account != self._account:
            raise StateFileError(
                StateDamage.ACCOUNT,
                f"state file {self.path} belongs to account {state.account!r}, "
                f"not {self._account!r} (daemon.account or daemon.state_dir is wrong?)",
            )
        return state

    def _set_aside_damaged(self, now: int) -> None:
        # Keep the damaged bytes for forensics before a fresh file takes the name; if
        # they cannot be moved aside, do not overwrite them either.
        if self.damage is None or not self._ops.exists(self.path):
            return
        if self.damage.damage in (StateDamage.MISSING_DIR, StateDamage.NOT_WRITABLE):
            return
        aside = f"{self.path}.damaged-{now}"
        try:
            self._ops.replace(self.path, aside)
        except OSError as exc:
            _log.error(
                "cannot move the damaged state file aside; leaving it untouched",
                extra={"event": "safety_set_aside_failed", "error": str(exc)},
            )
            self._release_lock()
            return
        _log.warning("damaged state file kept", extra={"event": "safety_set_aside", "path": aside})

    def _damage_kill(self, damage: StateFileError, now: int) -> KillRecord:
        return KillRecord(
            engaged=True,
            reason=damage.detail,
            trigger=KillTrigger.STATE_FILE,
            by="tradingd",
            since_ns=now,
        )

    def _announce_start(self, state: SafetyState, now: int) -> None:
        if self.damage is not None:
            d = self.damage
            _log.critical(
                "safety state unusable: starting with the kill switch engaged; "
                "an operator must reset it",
                extra={"event": "safety_state_damaged", "damage": str(d.damage), "why": d.detail},
            )
            self._pending += [
                self._alert(
                    Severity.CRITICAL,
                    "safety_state_damaged",
                    f"kill switch engaged at start: {d.detail}",
                    now,
                    damage=str(d.damage),
                ),
                KillSwitchEvent(
                    engaged=True,
                    reason=d.detail,
                    trigger=KillTrigger.STATE_FILE,
                    by="tradingd",
                    ts=now,
                ),
            ]
            return
        if self.initialised:
            text = f"no safety state file at {self.path}: initialised a new one (first start)"
            _log.warning(text, extra={"event": "safety_state_initialised"})
            self._pending.append(self._alert(Severity.INFO, "safety_state_initialised", text, now))
        if state.kill.engaged:
            _log.warning(
                "kill switch is engaged (carried over from before the restart)",
                extra={
                    "event": "safety_kill_carried",
                    "trigger": state.kill.trigger,
                    "why": state.kill.reason,
                },
            )
        if state.kill.trigger == KillTrigger.RECONCILIATION and state.kill.engaged:
            # Unknown until the reconciler has run clean again after the restart.
            self._conditions[KillTrigger.RECONCILIATION] = (
                "awaiting a clean reconciliation since the restart"
            )
        last = state.last_reset
        # A forced reset acknowledged day-scoped conditions (a daily loss, a breaker
        # escalation); a restart on the same trading day must not undo it.
        if (
            last is not None
            and last.forced
            and not state.kill.engaged
            and self.calendar.trading_day(last.ts_ns) == state.day.trading_day
        ):
            for text in last.overridden:
                name = text.split(":", 1)[0]
                if name in _DAY_SCOPED:
                    self._acknowledged.add(KillTrigger(name))
        if state.mode.mode is not TradingMode.RUNNING:
            _log.warning(
                f"trading mode is {state.mode.mode} (carried over from before the restart)",
                extra={"event": "safety_mode_carried", "why": state.mode.reason},
            )

    async def announce(self) -> None:
        """Publish what :meth:`open` found (damage, first start) once subscribers exist."""
        pending, self._pending = self._pending, []
        for event in pending:
            await self._events.publish(event)

    def close(self) -> None:
        """Release the state file's lock (at daemon exit; the process exit also frees it)."""
        self._release_lock()

    def _release_lock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                self._ops.close(fd)

    # -- the gate (read side) ----------------------------------------------------------

    def may_submit(self, purpose: OrderPurpose) -> str | None:
        """``None`` if an order of ``purpose`` may leave now, else why not (O(1))."""
        return self._block if purpose.opens_risk else None

    def snapshot(self) -> SafetySnapshot:
        """The current state (prebuilt on every change; never blocks)."""
        return self._snapshot

    @property
    def state(self) -> SafetyState:
        """The full current state (what the file holds, or will once a write succeeds)."""
        return self._state

    @property
    def writable(self) -> bool:
        """False while the state cannot be written (new risk is halted)."""
        return self._writable

    def conditions(self) -> dict[KillTrigger, str]:
        """Automatic-trigger conditions holding now (a reset is refused while any do)."""
        held = dict(self._conditions)
        if not self._writable:
            held[KillTrigger.STATE_FILE] = f"state cannot be written: {self._write_error}"
        return held

    def inbox(self) -> Subscription[Any]:
        """The safety actor's lossless subscription to the events it watches.

        Created on first use and kept for the store's life, so events published while
        the actor restarts wait for it instead of being lost.
        """
        if self._inbox is None:
            self._inbox = self._events.subscribe("safety", types=INBOX_TYPES, lossless=True)
        return self._inbox

    def reconfigure(self, settings: Settings) -> None:
        """Take reloaded settings (triggers, flatten policy; the file location stays)."""
        cfg = settings.safety
        try:
            cal = SessionCalendar(settings.daemon.timezone, cfg.session_boundary, cfg.holidays)
        except CalendarError as exc:
            _log.error(
                "reload: keeping the old trading calendar",
                extra={"event": "safety_reload_rejected", "error": str(exc)},
            )
            return
        self.calendar = cal
        self._settings = settings

    @property
    def settings(self) -> Settings:
        """The settings the store works with (updated on reload)."""
        return self._settings

    @property
    def _cfg(self) -> SafetySettings:
        return self._settings.safety

    def _refresh(self) -> None:
        st = self._state
        k = st.kill
        m = st.mode
        block: str | None = None
        if self._latches:
            block = self._latches[-1][1]
        elif k.engaged:
            block = f"kill switch engaged ({k.trigger}): {k.reason}"
        elif not self._writable:
            block = f"safety state cannot be persisted: {self._write_error}"
        elif m.mode is TradingMode.PAUSED:
            block = f"trading paused (reduce-only): {m.reason}"
        elif m.mode is TradingMode.STOPPED:
            block = f"trading stopped: {m.reason}"
        self._block = block
        latched_kill = next((why for is_kill, why in self._latches if is_kill), "")
        d = st.day
        self._snapshot = SafetySnapshot(
            killed=k.engaged or bool(latched_kill),
            kill_reason=k.reason if k.engaged else latched_kill,
            kill_trigger=k.trigger if k.engaged else "",
            kill_by=k.by if k.engaged else "",
            kill_ns=k.since_ns if k.engaged else 0,
            mode=m.mode,
            day=DayFigures(
                trading_day=d.trading_day,
                start_equity=str(d.start_equity),
                realized_pnl=str(d.realized_pnl),
                trade_count=d.trade_count,
            ),
            consecutive_losses=st.breaker.consecutive_losses,
            breaker_until_ns=st.breaker.cooldown_until_ns,
            day_trades=tuple(t.day for t in st.day_trades),
            writable=self._writable,
            write_error=self._write_error,
            mode_reason=m.reason,
            breaker_trips=d.breaker_trips,
            seq=st.seq,
        )

    # -- commands ----------------------------------------------------------------------

    async def engage(
        self,
        reason: str,
        *,
        trigger: KillTrigger = KillTrigger.OPERATOR,
        by: str = "",
        flatten: bool = False,
    ) -> SafetyReply:
        """Engage the kill switch: block entries now, cancel orders, optionally flatten.

        Never refused. If the switch is already engaged, cancels (and flatten) are sent
        again and the state changes only to record a newly requested flatten.
        """
        reason = reason.strip() or "(no reason given)"
        now = self._clock.now_ns()
        if trigger.automatic:
            self._conditions.setdefault(trigger, reason)
        # Synchronous, before any await: from this line on no entry leaves the process.
        latch = (True, f"kill switch engaging ({trigger}): {reason}")
        self._latches.append(latch)
        self._refresh()
        try:
            await self._send_kill_orders(reason, trigger, flatten, now)
            async with self._lock:
                cur = self._state
                if cur.kill.engaged and (cur.kill.flatten or not flatten):
                    return self._reply(True, message="kill switch already engaged")
                newly = not cur.kill.engaged
                if not newly:
                    kill = _replace(cur.kill, flatten=True)
                else:
                    kill = KillRecord(
                        engaged=True,
                        reason=reason,
                        trigger=trigger,
                        by=by,
                        since_ns=now,
                        flatten=flatten,
                    )
                new = _replace(cur, seq=cur.seq + 1, written_ns=now, kill=kill)
                durable = await self._persist(new)
                self._state = new  # engaged stands even when the disk refused it
        finally:
            self._latches.remove(latch)
            self._refresh()
        _log.critical(
            "kill switch engaged" if newly else "flatten requested on the engaged kill switch",
            extra={
                "event": "kill_engaged",
                "trigger": str(trigger),
                "by": by,
                "why": reason,
                "flatten": flatten,
                "durable": durable,
            },
        )
        await self._events.publish(
            KillSwitchEvent(
                engaged=True, reason=reason, trigger=trigger, by=by, flatten=flatten, ts=now
            )
        )
        if not durable:
            return self._reply(
                False,
                changed=True,
                code=ReplyCode.WRITE_FAILED,
                message=f"engaged in memory (entries blocked) but not durable: {self._write_error}",
            )
        return self._reply(
            True,
            changed=True,
            message="kill switch engaged" if newly else "flatten requested; switch stays engaged",
        )

    async def reset(self, reason: str, *, by: str = "", force: bool = False) -> SafetyReply:
        """Release the kill switch; refused while a trigger condition holds unless forced."""
        reason = reason.strip()
        if not reason:
            return self._reply(
                False, code=ReplyCode.REASON_REQUIRED, message="a reset needs a reason"
            )
        now = self._clock.now_ns()
        async with self._lock:
            cur = self._state
            if not cur.kill.engaged:
                return self._reply(True, message="kill switch is not engaged")
            held = self.conditions()
            if held and not force:
                _log.warning(
                    "kill switch reset refused: conditions still hold",
                    extra={"event": "kill_reset_refused", "by": by, "held": _fmt(held)},
                )
                return self._reply(
                    False,
                    code=ReplyCode.CONDITIONS_HOLD,
                    message="reset refused while these conditions hold (force to override): "
                    + "; ".join(_fmt(held)),
                )
            record = ResetRecord(
                reason=reason,
                by=by,
                forced=force,
                trigger=cur.kill.trigger,
                overridden=tuple(_fmt(held)),
                ts_ns=now,
            )
            new = _replace(
                cur, seq=cur.seq + 1, written_ns=now, kill=KillRecord(), last_reset=record
            )
            if not await self._persist(new):
                return self._reply(
                    False,
                    code=ReplyCode.WRITE_FAILED,
                    message=f"reset not made: the state cannot be written ({self._write_error})",
                )
            self._state = new
            if force:
                self._acknowledged |= held.keys()
            self._refresh()
        _log.warning(
            "kill switch reset",
            extra={
                "event": "kill_reset",
                "by": by,
                "why": reason,
                "forced": force,
                "released": cur.kill.trigger,
                "overridden": list(record.overridden),
            },
        )
        await self._events.publish(
            KillSwitchEvent(
                engaged=False,
                reason=reason,
                trigger=cur.kill.trigger,
                by=by,
                forced=force,
                ts=now,
            )
        )
        return self._reply(True, changed=True, message="kill switch reset")

    async def set_mode(self, mode: TradingMode, *, reason: str, by: str = "") -> SafetyReply:
        """Set running / paused (reduce-only) / stopped; durable before it loosens."""
        reason = reason.strip()
        if not reason:
            return self._reply(
                False, code=ReplyCode.REASON_REQUIRED, message="a mode change needs a reason"
            )
        now = self._clock.now_ns()
        tightening = mode is not TradingMode.RUNNING
        latch = (False, f"trading {mode}: {reason}")
        if tightening:
            self._latches.append(latch)
            self._refresh()
        try:
            async with self._lock:
                cur = self._state
                previous = cur.mode.mode
                if previous is mode:
                    return self._reply(True, message=f"trading mode is already {mode}")
                record = ModeRecord(mode=mode, reason=reason, by=by, since_ns=now)
                new = _replace(cur, seq=cur.seq + 1, written_ns=now, mode=record)
                durable = await self._persist(new)
                if not durable and not tightening:
                    return self._reply(
                        False,
                        code=ReplyCode.WRITE_FAILED,
                        message=f"mode not changed: the state cannot be written "
                        f"({self._write_error})",
                    )
                self._state = new
        finally:
            if tightening:
                self._latches.remove(latch)
            self._refresh()
        _log.warning(
            f"trading mode {previous} -> {mode}",
            extra={"event": "mode_changed", "by": by, "why": reason, "durable": durable},
        )
        await self._events.publish(
            TradingModeChanged(mode=mode, previous=previous, reason=reason, by=by, ts=now)
        )
        if not durable:
            return self._reply(
                False,
                changed=True,
                code=ReplyCode.WRITE_FAILED,
                message=f"mode set in memory but not durable: {self._write_error}",
            )
        return self._reply(True, changed=True, message=f"trading mode {previous} -> {mode}")

    # -- automatic triggers ------------------------------------------------------------

    async def trip(self, trigger: KillTrigger, detail: str) -> bool:
        """An automatic trigger's condition now holds: engage (once per occurrence).

        Returns True when this call engaged the switch. A condition that a forced reset
        acknowledged does not engage again until it has cleared.
        """
        if trigger in self._conditions:
            self._conditions[trigger] = detail
            return False
        self._conditions[trigger] = detail
        if trigger in self._acknowledged:
            return False
        flatten = str(trigger) in self._cfg.flatten_on
        await self.engage(detail, trigger=trigger, by="tradingd", flatten=flatten)
        return True

    def clear(self, trigger: KillTrigger) -> None:
        """An automatic trigger's condition no longer holds (the switch stays engaged)."""
        if self._conditions.pop(trigger, None) is not None:
            _log.info(
                f"{trigger} condition cleared",
                extra={"event": "safety_condition_cleared", "trigger": str(trigger)},
            )
        self._acknowledged.discard(trigger)

    async def on_escalation(self, actor: str, reason: str) -> None:
        """The supervisor's escalation hook: a core actor is past its restart intensity."""
        await self.trip(KillTrigger.ACTOR_ESCALATION, reason or f"core actor {actor} failed")

    # -- day figures -------------------------------------------------------------------

    async def update(self, change: Callable[[SafetyState], SafetyState]) -> SafetyState:
        """Apply a day-figure rule (see :mod:`.rules`) and persist the result.

        The kill switch, mode and reset audit cannot be changed this way. Figures are
        facts: they stand in memory even if the write fails (which halts new risk).
        """
        async with self._lock:
            cur = self._state
            new = change(cur)
            new = _replace(new, kill=cur.kill, mode=cur.mode, last_reset=cur.last_reset)
            if new == cur:
                return cur
            new = _replace(new, seq=cur.seq + 1, written_ns=self._clock.now_ns())
            await self._persist(new)
            self._state = new
            self._refresh()
            return new

    async def retry_write(self) -> bool:
        """Write the current state again after a failure; True once it is durable."""
        async with self._lock:
            if self._writable:
                return True
            if self._lock_fd is None:
                return False  # not our file: see the LOCKED / missing-directory damage
            cur = self._state
            new = _replace(cur, seq=cur.seq + 1, written_ns=self._clock.now_ns())
            ok = await self._persist(new)
            if ok:
                self._state = new
            self._refresh()
            return ok

    # -- internals ---------------------------------------------------------------------

    async def _persist(self, new: SafetyState) -> bool:
        """Write ``new`` durably (caller holds the lock); False, alerted, on failure."""
        if self._lock_fd is None:
            await self._write_failed("the state file is not locked by this process", new)
            return False
        data = encode_state(new)
        try:
            if self._settings.safety.write_in_thread:
                await anyio.to_thread.run_sync(
                    write_atomic, self._ops, self.path, data, limiter=self._writer
                )
            else:
                write_atomic(self._ops, self.path, data)  # same steps, on the loop thread
        except OSError as exc:
            await self._write_failed(str(exc), new)
            return False
        if not self._writable:
            self._writable = True
            self._write_error = ""
            _log.warning(
                "safety state written again after failures",
                extra={"event": "safety_write_recovered", "failures": self._write_failures},
            )
            self._write_failures = 0
            await self._events.publish(
                self._alert(
                    Severity.WARNING,
                    "safety_write_recovered",
                    f"safety state is durable again ({self.path}); new risk allowed",
                    new.written_ns,
                )
            )
        return True

    async def _write_failed(self, error: str, new: SafetyState) -> None:
        first = self._writable
        self._writable = False
        self._write_error = error
        self._write_failures += 1
        self._refresh()
        _log.critical(
            "cannot write the safety state: new risk halted until a write succeeds",
            extra={"event": "safety_write_failed", "error": error, "seq": new.seq},
        )
        if first:
            await self._events.publish(
                self._alert(
                    Severity.CRITICAL,
                    "safety_write_failed",
                    f"cannot write {self.path} ({error}); entries are refused until it "
                    f"can be written again",
                    self._clock.now_ns(),
                )
            )

    async def _send_kill_orders(
        self, reason: str, trigger: KillTrigger, flatten: bool, now: int
    ) -> None:
        entries_only = self._cfg.kill_cancels == "entries" and not flatten
        await self._orders.send(
            CancelAllOrders(reason=f"kill switch: {reason}", entries_only=entries_only, ts=now)
        )
        if flatten:
            exit_reason = (
                ExitReason.OPERATOR if trigger is KillTrigger.OPERATOR else ExitReason.EMERGENCY
            )
            await self._lifecycle.send(
                FlattenAll(reason=f"kill switch: {reason}", exit_reason=exit_reason, ts=now)
            )

    def _alert(self, severity: Severity, code: str, text: str, now: int, **payload: Any) -> Alert:
        return Alert(
            alert_id=f"{code}:{now}",
            severity=severity,
            code=code,
            text=text,
            payload={"path": self.path, **payload},
            ts=now,
        )

    def _reply(
        self,
        ok: bool,
        *,
        changed: bool = False,
        code: ReplyCode = ReplyCode.OK,
        message: str = "",
    ) -> SafetyReply:
        return SafetyReply(
            ok=ok,
            changed=changed,
            code=code,
            message=message,
            snapshot=self._snapshot,
            conditions=tuple(_fmt(self.conditions())),
        )

    def reply(
        self, *, ok: bool = True, code: ReplyCode = ReplyCode.OK, message: str = ""
    ) -> SafetyReply:
        """A reply carrying the current state (``GetSafety``, or a refused request)."""
        return self._reply(ok, code=code, message=message)


def _fmt(held: dict[KillTrigger, str]) -> list[str]:
    return [f"{k}: {v}" for k, v in sorted(held.items())]
