"""Example: send a signal to tradingd through its Redis stream, with only redis-py.

    python redis_producer.py AAPL buy --source momentum --conviction 70 --stop 181 --target 199

Appends one entry (field ``data`` = the signal's JSON) to ``<prefix>:<account>:signals``,
trimming the stream to about 100 000 entries. The daemon acknowledges the entry once the
signal guard has decided on it; a malformed signal lands in ``<prefix>:<account>:deadletter``
with the reason. See docs/redis.md for every field.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

from redis import Redis


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("symbol")
    parser.add_argument("side", choices=["buy", "sell"])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--prefix", default="tradingd")
    parser.add_argument("--account", default="paper")
    parser.add_argument("--source", default="example")
    parser.add_argument("--conviction", type=int, default=50)
    parser.add_argument("--entry", type=float)
    parser.add_argument("--stop", type=float)
    parser.add_argument("--target", type=float)
    parser.add_argument("--intraday", action="store_true")
    args = parser.parse_args()

    signal = {
        # Unique per source; re-sending the same id is harmless (rejected as a duplicate).
        "signal_id": f"{args.source}-{uuid.uuid4().hex[:12]}",
        "source": args.source,
        "symbol": args.symbol,
        "side": args.side,
        "trade_type": "intraday" if args.intraday else "swing",
        "conviction": args.conviction,
        "entry_price": args.entry,
        "stop_price": args.stop,
        "target_price": args.target,
        "created_ns": time.time_ns(),
    }
    client = Redis.from_url(args.url)
    stream = f"{args.prefix}:{args.account}:signals"
    entry_id = client.xadd(stream, {"data": json.dumps(signal)}, maxlen=100_000, approximate=True)
    print(f"sent {signal['signal_id']} as {stream} {entry_id!r}")


if __name__ == "__main__":
    main()
