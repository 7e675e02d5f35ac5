"""Splitting a byte stream into bounded request lines."""

from __future__ import annotations

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.control._connection import OVERSIZE, LineReader


class _Bytes(anyio.abc.ByteStream):
    """A byte stream delivering the given chunks, then end of stream."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = list(chunks)

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if not self._chunks:
            raise anyio.EndOfStream
        return self._chunks.pop(0)

    async def send(self, item: bytes) -> None:
        raise NotImplementedError

    async def send_eof(self) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        pass


async def _all(chunks: list[bytes], limit: int) -> list[object]:
    reader = LineReader(_Bytes(chunks), limit)
    out: list[object] = []
    while (item := await reader.next()) is not None:
        out.append(item)
    return out


async def test_lines_across_chunks_and_a_last_line_without_newline() -> None:
    assert await _all([b"ab", b"c\nde", b"f\n\ngh"], 10) == [b"abc", b"def", b"", b"gh"]


async def test_an_oversized_line_is_reported_once_and_the_next_line_is_intact() -> None:
    got = await _all([b"x" * 8, b"x" * 8, b"x" * 8 + b"\nok\n"], 10)
    assert got == [OVERSIZE, b"ok"]


async def test_a_complete_line_just_over_the_limit_is_oversize() -> None:
    assert await _all([b"x" * 11 + b"\nok\n"], 10) == [OVERSIZE, b"ok"]


async def test_exactly_the_limit_is_accepted() -> None:
    assert await _all([b"x" * 10 + b"\n"], 10) == [b"x" * 10]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=8),
    st.integers(min_value=1, max_value=7),
    st.integers(min_value=5, max_value=20),
)
def test_any_chunking_gives_the_same_lines(lines: list[bytes], cut: int, limit: int) -> None:
    data = b"".join(line + b"\n" for line in lines)
    chunks = [data[i : i + cut] for i in range(0, len(data), cut)]
    expected = [line if len(line) <= limit else OVERSIZE for line in lines]
    assert anyio.run(_all, chunks, limit) == expected
