"""Benchmarks: ``make bench`` (all) or ``make bench BENCH=name`` (one).

Each module ``tests/bench/bench_<name>.py`` defines ``def run() -> Iterable[Result]``.
Every result compares our figure with the raw limit measured in the same run.
"""
