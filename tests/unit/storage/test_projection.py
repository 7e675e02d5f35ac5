"""Projection, chain hashing and error classification (no database needed)."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.messages import EVENT_TYPES
from storage import STORED_TYPES, Projector, StorageRejected, StorageUnavailable
from storage import _tables as t
from storage._chain import GENESIS, canonical_payload, event_key, link_hash
from storage._copytext import copy_text, text_fields
from storage._errmap import map_error
from storage.projection import AUDIT_ONLY_TYPES, PROJECTED_TYPES, trading_day
from storage.store import EventStore
from tests.integration.storage.events import pipeline_events

TZ = ZoneInfo("America/New_York")


def test_every_row_matches_its_tables_columns() -> None:
    p = Projector(TZ)
    seen: set[type] = set()
    for e in pipeline_events(60):
        prepared = p.prepare(e)
        seen.add(type(e))
        for index, tail in prepared.rows:
            spec = t.ALL_SPECS[index]
            assert len(tail) == len(spec.columns) - 2, (type(e).__name__, spec.name)
    assert set(PROJECTED_TYPES) <= seen


def test_stored_types_are_catalogue_types_and_disjoint() -> None:
    assert set(STORED_TYPES) <= set(EVENT_TYPES)
    assert not set(PROJECTED_TYPES) & set(AUDIT_ONLY_TYPES)
    assert {"Tick", "Bar", "MarketBatch", "Heartbeat"}.isdisjoint(
        {k.__name__ for k in STORED_TYPES}
    )


def test_unstored_types_are_refused_clearly() -> None:
    from daemon.messages import Heartbeat

    with pytest.raises(TypeError, match="not a stored event type"):
        Projector(TZ).prepare(Heartbeat(uptime_s=1.0, mode="running", killed=False, ts=1))


def test_payload_is_canonical_and_key_is_stable() -> None:
    e = pipeline_events(1)[6]
    payload = canonical_payload(e)
    body = msgspec.json.decode(payload)
    assert list(body) == sorted(body)  # keys sorted
    assert body["type"] == "Fill"
    assert isinstance(body["price"], str)  # decimals as strings
    assert msgspec.json.encode(body, order="sorted") == payload  # no whitespace
    assert payload == canonical_payload(e)
    assert event_key(payload) == event_key(canonical_payload(e))
    assert len(event_key(payload)) == 32


def test_inlined_chain_hash_is_the_documented_one() -> None:
    prepared = [Projector(TZ).prepare(e) for e in pipeline_events(3)]
    store = EventStore.__new__(EventStore)
    store.account = "acct"
    plan = store._assign(prepared, (0, GENESIS), None)
    prev = GENESIS
    for row, p in zip(plan.audit, prepared, strict=True):
        account, seq, _ts, _kind, _key, _cid, payload, prev_hash, h = row
        assert prev_hash == prev
        assert h == link_hash(account, seq, prev, p.payload)
        assert payload.encode() == p.payload
        prev = h


def test_trading_day_uses_the_exchange_time_zone() -> None:
    # 2023-11-15 03:00 UTC is still the 14th in New York.
    ns = 1_700_017_200 * 10**9
    assert trading_day(ns, TZ) == "2023-11-14"
    assert trading_day(ns, ZoneInfo("UTC")) == "2023-11-15"


def test_specs_know_their_decimal_columns() -> None:
    assert t.AUDIT.decimal_positions == ()
    assert [t.FILLS.columns[i] for i in t.FILLS.decimal_positions] == [
        "qty",
        "price",
        "commission",
    ]


_texts = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))


@given(st.lists(st.tuples(_texts, st.none() | st.integers(-(2**63), 2**63 - 1)), max_size=20))
def test_copy_text_escapes_every_special_character(rows: list[tuple[str, int | None]]) -> None:
    data = copy_text(rows).decode()
    lines = data.split("\n")
    assert lines[-1] == ""
    assert len(lines) == len(rows) + 1
    for line, (s, n) in zip(lines, rows, strict=False):
        fields = line.split("\t")
        assert len(fields) == 2
        unescaped = (
            fields[0]
            .replace("\\\\", "\x00")
            .replace("\\t", "\t")
            .replace("\\n", "\n")
            .replace("\\r", "\r")
            .replace("\x00", "\\")
        )
        assert unescaped == s
        assert fields[1] == ("\\N" if n is None else str(n))


def test_copy_text_formats_values() -> None:
    line = copy_text([(True, False, None, Decimal("1.50"), 2.5, 7)]).decode()
    assert line == "t\tf\t\\N\t1.50\t2.5\t7\n"


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (OSError("refused"), StorageUnavailable),
        (TimeoutError(), StorageUnavailable),
        (sqlite3.OperationalError("database is locked"), StorageUnavailable),
        (sqlite3.IntegrityError("NOT NULL constraint failed"), StorageRejected),
        (OverflowError("Python int too large"), StorageRejected),
        (asyncpg.exceptions.CannotConnectNowError("starting up"), StorageUnavailable),
        (asyncpg.exceptions.AdminShutdownError("shutdown"), StorageUnavailable),
        (asyncpg.exceptions.UndefinedTableError("no table"), StorageUnavailable),
        (asyncpg.exceptions.NumericValueOutOfRangeError("too big"), StorageRejected),
        (asyncpg.exceptions.CharacterNotInRepertoireError("nul"), StorageRejected),
        (asyncpg.exceptions.DataError("bad argument"), StorageRejected),
        (asyncpg.exceptions.ConnectionDoesNotExistError("gone"), StorageUnavailable),
    ],
)
def test_driver_errors_are_classified(exc: BaseException, kind: type) -> None:
    mapped = map_error(exc, "writing")
    assert isinstance(mapped, kind)
    assert str(mapped).startswith("writing: ")


def test_bugs_are_not_classified() -> None:
    assert map_error(KeyError("x"), "writing") is None
    assert map_error(ValueError("x"), "writing") is None


def test_generated_formatters_match_the_generic_encoding() -> None:
    p = Projector(TZ)
    text = Projector(TZ, copy_text=True)
    checked: set[str] = set()
    for e in pipeline_events(60):
        for (index, tail), (_, encoded) in zip(
            p.prepare(e).rows, text.prepare(e).rows, strict=True
        ):
            spec = t.ALL_SPECS[index]
            assert spec.tail_text(tail) == text_fields(tail)
            assert spec.row_text(("acct", 7, *tail)) == text_fields(("acct", 7, *tail))
            if isinstance(encoded, str):
                assert encoded == text_fields(tail)
            checked.add(spec.name)
    assert len(checked) >= 15


@given(st.lists(_texts, min_size=3, max_size=3), st.none() | st.decimals(allow_nan=False))
def test_generated_formatter_escapes_text(values: list[str], amount: Decimal | None) -> None:
    from storage._copytext import make_formatter

    fmt = make_formatter([("text", False), ("text", True), ("text", False), ("num", True)])
    row = (*values, amount)
    assert fmt(row) == text_fields(row)
