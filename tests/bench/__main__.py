"""Run benchmarks and print one JSON object per result line."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import msgspec


def _names() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )


def main(argv: list[str]) -> int:
    """Run the benchmarks named in ``argv`` (all when empty)."""
    names = [a for a in argv if a] or _names()
    unknown = [n for n in names if n not in _names()]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(_names())}",
            file=sys.stderr,
        )
        return 2
    enc = msgspec.json.Encoder()
    for name in names:
        mod = importlib.import_module(f"tests.bench.bench_{name}")
        for result in mod.run():
            sys.stdout.write(enc.encode(result).decode() + "\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
