"""Determinism: the same inputs and configuration give the same decisions, byte for byte.

The configuration here is deliberately realistic — seeded slippage noise, commissions,
partial fills on thin pre-market minutes, broker latencies and acknowledgement timers,
stop losses and targets, the risk gate's checks — so the run exercises timers and
randomness, not just a straight path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from config import Settings, settings_from_mapping
from daemon.replay import compare, read_normalised
from tests.replay._support import MINUTES, have, replay, spy_minutes

pytestmark = pytest.mark.skipif(not have(MINUTES), reason="shared SPY minute data absent")

SIGNALS = "ema-cross:fast=10,slow=30,stop_pct=0.3,target_pct=0.5"


def _settings(**risk: float) -> Settings:
    return settings_from_mapping(
        {
            "guard": {"sources": ["ema-cross"]},
            "sizing": {"method": "fixed_dollar", "fixed_dollar": 5000.0},
            "risk": {
                "require_history": False,
                "bar_interval_s": 60,
                "min_adv": 0.0,
                "max_adv_pct": 100.0,
                **risk,
            },
            "lifecycle": {"bar_interval_s": 60},
        },
        "determinism test",
    )


async def test_two_replays_give_the_same_digest(tmp_path: Path) -> None:
    bars = spy_minutes()[:4000]
    a = await replay(bars, _settings(), tmp_path / "a", SIGNALS)
    b = await replay(bars, _settings(), tmp_path / "b", SIGNALS)
    assert a.decisions > 500
    assert {"Fill", "TradeClosed", "RiskDecision"} <= a.by_kind.keys()
    assert a.digest == b.digest
    assert a.decisions_path.read_bytes() == b.decisions_path.read_bytes()


async def test_handing_quiet_stretches_over_together_changes_nothing(tmp_path: Path) -> None:
    from daemon.replay import ReplayConfig, bar_steps, parse_signals, run_replay

    bars = spy_minutes()[:3000]
    results = []
    for limit in (1, 4096):
        cfg = ReplayConfig(settings=_settings(), out_dir=tmp_path / str(limit), batch_limit=limit)
        steps = bar_steps(([b] for b in bars), parse_signals(SIGNALS))
        results.append(await run_replay(cfg, steps))
    one, batched = results
    assert batched.deliveries < one.deliveries  # it did batch
    assert one.digest == batched.digest


async def test_another_configuration_replays_the_same_inputs_differently(tmp_path: Path) -> None:
    bars = spy_minutes()[:4000]
    a = await replay(bars, _settings(), tmp_path / "a", SIGNALS)
    b = await replay(bars, _settings(max_position_pct=2.0), tmp_path / "b", SIGNALS)
    assert a.signals == b.signals
    assert a.digest != b.digest
    diffs = compare(read_normalised(a.decisions_path), read_normalised(b.decisions_path))
    assert diffs
