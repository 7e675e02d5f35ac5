"""PostgreSQL ``COPY ... (FORMAT text)`` encoding of plain values.

Text format: fields separated by tabs, rows by newlines, ``\\N`` for NULL, and
backslash, tab, newline and carriage return escaped with a backslash. Decimals and
integers go as their string forms (the server parses them as fast as binary, while
asyncpg's binary ``numeric`` encoder costs ~1.4 µs a value in Python).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def text_value(v: Any) -> str:
    """One field in COPY text format."""
    if v is None:
        return "\\N"
    if v is True:
        return "t"
    if v is False:
        return "f"
    if isinstance(v, str):
        # Most values are plain identifiers; only translate when there is something to escape.
        if "\\" in v or "\t" in v or "\n" in v or "\r" in v:
            return v.translate(_ESCAPES)
        return v
    return str(v)


def text_fields(values: Sequence[Any]) -> str:
    """Fields of one row (no newline)."""
    return "\t".join([text_value(v) for v in values])


def copy_text(rows: Sequence[Sequence[Any]]) -> bytes:
    """``rows`` in COPY text format, newline-terminated."""
    lines = [text_fields(row) for row in rows]
    lines.append("")
    return "\n".join(lines).encode()


def copy_lines(lines: Sequence[str]) -> bytes:
    """Already-encoded rows joined into one COPY payload."""
    return ("\n".join(lines) + "\n").encode()


def _escaped(v: str) -> str:
    return v.translate(_ESCAPES)


def make_formatter(kinds: Sequence[tuple[str, bool]]) -> Callable[[Sequence[Any]], str]:
    """A function formatting rows of known column kinds in COPY text format.

    ``kinds`` are ``(kind, nullable)`` with kind one of ``text``, ``int``, ``num``,
    ``float``, ``bool``. The function is generated once per table: one f-string per row
    instead of a call per value, which is what makes encoding cheap enough to run for
    every record as it is drained.
    """
    names = [f"v{i}" for i in range(len(kinds))]
    parts: list[str] = []
    for name, (kind, nullable) in zip(names, kinds, strict=True):
        if kind == "text":
            expr = f"({name} if {name}.isprintable() and _BS not in {name} else _esc({name}))"
        elif kind == "bool":
            expr = f"('t' if {name} else 'f')"
        else:
            # Numbers: str() via the !s conversion (format() is twice as slow for Decimal).
            expr = name
        if nullable:
            expr = f"(_NULL if {name} is None else {expr})"
        conversion = "" if kind in ("text", "bool") else "!s"
        parts.append("{" + expr + conversion + "}")
    unpack = ", ".join(names) + ("," if len(names) == 1 else "")
    body = "\\t".join(parts)
    src = f'def fmt(row):\n    {unpack} = row\n    return f"{body}"\n'
    scope: dict[str, Any] = {"_esc": _escaped, "_BS": "\\", "_NULL": "\\N"}
    # The source is built only from the column kinds above, never from data.
    exec(compile(src, "<copy-text formatter>", "exec"), scope)
    fmt: Callable[[Sequence[Any]], str] = scope["fmt"]
    return fmt
