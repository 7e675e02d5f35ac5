"""A process that drives the real safety-state writer, for the SIGKILL crash test.

``python -m tests.chaos.safety_driver STATE_DIR SEED`` opens the state exactly as the
daemon does (:meth:`SafetyStore.open` over the real :class:`OsFileOps`), then applies a
seeded random stream of kill toggles, mode changes and closed trades forever. It prints
one JSON line per step on stdout (a single ``write(2)`` each, so lines never interleave):

* ``{"kind": "loaded", "state": ...}`` once the state is open;
* ``{"kind": "writing", "state": ...}`` from inside the writer, with the state about to
  be written (taken from the bytes themselves), before they reach the file;
* ``{"kind": "ack", "state": ...}`` when a change has returned, i.e. is durable.

The parent kills it with SIGKILL at a random line and checks the file on disk.
"""

from __future__ import annotations

import os
import random
import sys
from decimal import Decimal
from functools import partial
from typing import Any

import anyio
import msgspec

from config import settings_from_mapping
from daemon import names
from daemon.bus import Bus
from daemon.clock import NS_PER_S, SimClock
from daemon.messages import Side, TradeClosed, TradingMode
from daemon.safety import OsFileOps, SafetyState, SafetyStore
from daemon.safety.rules import apply_trade
from daemon.safety.state import decode_state

T0 = 1_709_305_200 * NS_PER_S  # 2024-03-01 10:00 New York: far from any rollover
_enc = msgspec.json.Encoder()


def summary(st: SafetyState) -> dict[str, Any]:
    """The fields the crash test compares: kill, mode, day figures, breaker, sequence."""
    return {
        "seq": st.seq,
        "killed": st.kill.engaged,
        "kill_reason": st.kill.reason,
        "flatten": st.kill.flatten,
        "mode": str(st.mode.mode),
        "mode_reason": st.mode.reason,
        "day": st.day.trading_day,
        "realized_pnl": str(st.day.realized_pnl),
        "trade_count": st.day.trade_count,
        "losses": st.breaker.consecutive_losses,
        "day_trades": len(st.day_trades),
    }


def emit(kind: str, st: SafetyState) -> None:
    """One line, one write(2): atomic on a pipe, so lines from two threads never mix."""
    os.write(1, _enc.encode({"kind": kind, "state": summary(st)}) + b"\n")


class ObservedOps:
    """The real file operations; announces each state just before its bytes are written."""

    def __init__(self) -> None:
        self._real = OsFileOps()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def write(self, fd: int, data: bytes) -> int:
        emit("writing", decode_state(data))
        return self._real.write(fd, data)


async def drive(state_dir: str, seed: int) -> None:
    """Open the state and change it at random until killed."""
    settings = settings_from_mapping(
        {"daemon": {"state_dir": state_dir}, "safety": {"breaker_max_losses": 3}}
    )
    clock = SimClock(T0)
    bus = Bus(default_capacity=16)
    store = await SafetyStore.open(settings, clock=clock, bus=bus, fileops=ObservedOps())
    if store.damage is not None:
        os.write(2, f"damaged: {store.damage.detail}\n".encode())
        raise SystemExit(3)
    emit("loaded", store.state)
    rng = random.Random(seed)
    modes = list(TradingMode)
    for i in range(1_000_000):
        clock.advance(1.0)
        op = rng.randrange(4)
        if op == 0:
            await store.engage(f"kill {seed}/{i}", by="driver", flatten=rng.random() < 0.3)
        elif op == 1:
            await store.reset(f"reset {seed}/{i}", by="driver", force=True)
        elif op == 2:
            await store.set_mode(rng.choice(modes), reason=f"mode {seed}/{i}", by="driver")
        else:
            pnl = Decimal(rng.randrange(-500, 500)) / 4
            t = clock.now_ns()
            trade = TradeClosed(
                trade_id=f"{seed}-{i}",
                correlation_id="c",
                symbol="AAPL",
                side=Side.BUY,
                qty=Decimal(1),
                entry_price=Decimal(100),
                exit_price=Decimal(100) + pnl,
                entry_ns=t - NS_PER_S,
                exit_ns=t,
                pnl=pnl,
                ts=t,
            )
            await store.update(
                partial(apply_trade, trade=trade, cal=store.calendar, cfg=settings.safety, now_ns=t)
            )
        for name in (names.ORCHESTRATOR_CONTROL, names.LIFECYCLE_CONTROL):
            ch = bus.channel(name)
            while ch.depth():
                ch.receive_nowait()
        emit("ack", store.state)


def main(argv: list[str]) -> int:
    """Entry point: ``STATE_DIR SEED``."""
    anyio.run(drive, argv[0], int(argv[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
