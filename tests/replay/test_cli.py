"""``tradingd replay`` end to end: data files, A/B, and damaged journals."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.cli import main
from daemon.journal import Chunk, JournalHeader, Kind, SegmentWriter, append_frame
from daemon.messages import Bar
from tests.replay._support import DAILY, have, transparent_settings

SPY = DAILY / "yahoofinance-SPY-20080101-20180101.csv"
needs_spy = pytest.mark.skipif(not have(SPY), reason="shared SPY daily data absent")


@needs_spy
def test_a_data_file_replay_prints_a_digest_and_writes_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["replay", f"SPY={SPY}", "--out", str(tmp_path), "-q", "--signals", "breakout"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2,519 market events" in out
    assert "decision digest " in out
    assert "by exit reason" in out
    assert (tmp_path / "report" / "report.html").is_file()
    assert (tmp_path / "report" / "equity.png").is_file()
    assert (tmp_path / "decisions.jsonl").stat().st_size > 0


@needs_spy
def test_ab_compares_two_configurations_on_the_same_inputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "a.toml"
    other = tmp_path / "b.toml"
    base.write_text("[sizing]\nmethod = 'fixed_shares'\nfixed_shares = 50.0\n")
    other.write_text(
        "[sizing]\nmethod = 'fixed_shares'\nfixed_shares = 50.0\n[risk]\nmax_position_pct = 2.0\n"
    )
    code = main(
        [
            "replay",
            str(SPY),
            "--base",
            str(base),
            "--config",
            str(other),
            "--out",
            str(tmp_path / "out"),
            "-q",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "A/B comparison" in out
    assert "risk.max_position_pct: A=10.0  B=2.0" in out
    assert "decided differently" in out
    assert (tmp_path / "out" / "A" / "report" / "report.html").is_file()
    assert (tmp_path / "out" / "B" / "report" / "report.html").is_file()
    # B's 2% limit turns 50 SPY shares (~5% of equity) down: fewer trades than A.
    ab = out[out.index("A/B comparison") :]
    line = next(x for x in ab.splitlines() if x.strip().startswith("trades"))
    a_trades, b_trades = (int(v) for v in line.split()[1:3])
    assert b_trades < a_trades


def _journal(tmp_path: Path, n: int = 60) -> Path:
    """A small journal of daily bars with the configuration in its header."""
    import msgspec

    settings = transparent_settings(lifecycle={"bar_interval_s": 86_400})
    doc = msgspec.to_builtins(settings)

    def header(day: str, number: int) -> bytes:
        buf = bytearray()
        h = JournalHeader(account="paper", day=day, segment=number, started_ns=0, settings=doc)
        append_frame(buf, -1, 0, Kind.HEADER, h)
        return bytes(buf)

    d = tmp_path / "journal"
    w = SegmentWriter(d, header)
    chunk = Chunk("2024-01-02")
    t0 = 1_704_229_200 * 10**9
    for i in range(n):
        px = 100.0 + (i % 7)
        bar = Bar(symbol="SPY", open=px, high=px + 1, low=px - 1, close=px, ts=t0 + i * 10**9)
        append_frame(chunk.data, i, bar.ts, Kind.MARKET, bar)
        chunk.frames += 1
    w.write([chunk])
    w.close()
    return d


def test_a_journal_with_a_torn_tail_replays_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = _journal(tmp_path)
    seg = next(d.iterdir())
    with open(seg, "r+b") as fh:
        fh.truncate(seg.stat().st_size - 5)
    code = main(["replay", str(d), "--out", str(tmp_path / "out"), "-q"])
    cap = capsys.readouterr()
    assert code == 0, cap.out + cap.err
    assert "59 market events" in cap.out
    assert "torn last frame" in cap.err


def test_a_journal_corrupt_in_the_middle_stops_with_the_offset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = _journal(tmp_path)
    seg = next(d.iterdir())
    data = bytearray(seg.read_bytes())
    off = len(data) // 2
    data[off] ^= 0xFF
    seg.write_bytes(bytes(data))
    code = main(["replay", str(d), "--out", str(tmp_path / "out"), "-q"])
    cap = capsys.readouterr()
    assert code == 5
    assert "corrupt frame at byte offset" in cap.err
    assert "--resync" in cap.err
    code = main(["replay", str(d), "--out", str(tmp_path / "out2"), "-q", "--resync"])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    assert "skipped" in cap.err
    assert "59 market events" in cap.out  # one frame of 60 lost, the rest replayed


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    f = tmp_path / "x.csv"
    f.write_text("a,b\n1,2\n")
    assert main(["replay", str(f), "--signals", "nope"]) == 2
    assert "unknown signal source" in capsys.readouterr().err
    assert main(["replay", str(f), "--speed", "fast"]) == 2
