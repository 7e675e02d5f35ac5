"""Example: follow everything a tradingd daemon does, from Redis, with only redis-py.

    python redis_subscriber.py redis://127.0.0.1:6379/0 --prefix tradingd --account paper

Subscribes to ``<prefix>:<account>:events:*`` (and the routed alert feed), prints one
line per event, and reports gaps in ``seq`` (events the daemon shed because Redis or
this subscriber was too slow). It depends on nothing from tradingd: the envelope and the
payloads are plain JSON, documented in docs/redis.md, so the same logic ports to any
language.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from decimal import Decimal
from typing import Any

from redis.asyncio import Redis


def summary(event: dict[str, Any]) -> str:
    """A short human line for the events people care most about."""
    kind = event.get("type")
    if kind == "Fill":
        # Accounting values arrive as decimal strings: parse them as Decimal, not float.
        notional = Decimal(event["qty"]) * Decimal(event["price"])
        return f"{event['side']} {event['qty']} {event['symbol']} @ {event['price']} ({notional})"
    if kind == "TradeClosed":
        return f"closed {event['symbol']}: P&L {event['pnl']} ({event['exit_reason']})"
    if kind == "SignalVerdict":
        sig = event["signal"]
        verdict = "accepted" if event["accepted"] else f"rejected ({event['reason']})"
        return f"signal {sig['source']}/{sig['signal_id']} {sig['symbol']}: {verdict}"
    if kind == "Alert":
        return f"[{event['severity']}] {event['code']}: {event['text']}"
    if kind == "KillSwitchEvent":
        return f"kill switch {'ENGAGED' if event['engaged'] else 'reset'}: {event['reason']}"
    return json.dumps(event)[:160]


async def follow(url: str, prefix: str, account: str) -> None:
    """Print events until interrupted."""
    client = Redis.from_url(url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.psubscribe(f"{prefix}:{account}:events:*")
    last_seq: dict[int, int] = {}  # per publisher incarnation ("boot")
    try:
        async for message in pubsub.listen():
            envelope = json.loads(message["data"])
            if envelope["v"] != 1:
                print(f"unknown schema version {envelope['v']}; skipping")
                continue
            boot, seq = envelope["boot"], envelope["seq"]
            previous = last_seq.get(boot)
            if previous is not None and seq > previous + 1:
                print(f"-- {seq - previous - 1} event(s) shed by the daemon")
            last_seq[boot] = max(seq, previous or 0)
            print(f"{envelope['kind']:<22} {summary(envelope['event'])}")
    finally:
        await pubsub.aclose()
        await client.aclose()


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--prefix", default="tradingd")
    parser.add_argument("--account", default="paper")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(follow(args.url, args.prefix, args.account))


if __name__ == "__main__":
    main()
