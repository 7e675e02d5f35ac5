"""Generate docs/configuration.md from the settings Structs themselves.

Run ``python -m config.docs > docs/configuration.md``; a test fails when the page and
the Structs disagree, so the reference can never drift from the code. Key descriptions
are the attribute docstrings written under each field.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import sys
import textwrap
from typing import Any

import msgspec

from config.loader import _describe
from config.settings import Settings

HEADER = """\
# Configuration reference

tradingd reads one TOML file (`tradingd run --config FILE`, `tradingd check-config FILE`).
Every key has a default; unknown keys are errors. Any key can be overridden from the
environment as `TRADINGD_<SECTION>__<KEY>` (nested tables add more `__`), e.g.
`TRADINGD_RISK__MAX_POSITION_PCT=5`. Values are parsed as TOML literals (`true`, `5`,
`["a","b"]`), falling back to plain strings. Put secrets (database passwords, webhook
tokens) in the environment, not in the file.

Errors name the key and what was expected, for example
`risk.max_position_pct: expected a number in (0, 100], got 150`.

Shipped files: `config/paper.toml` (embedded default: paper broker, SQLite, no Redis) and
`config/production.example.toml` (PostgreSQL, Redis, systemd paths).

This page is generated from the settings Structs by `python -m config.docs`; do not edit
it by hand.
"""


def _field_docs(cls: type[Any]) -> dict[str, str]:
    try:
        src = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    tree = ast.parse(src)
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for prev, node in itertools.pairwise(body):
        if (
            isinstance(prev, ast.AnnAssign)
            and isinstance(prev.target, ast.Name)
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            docs[prev.target.id] = " ".join(node.value.value.split())
    return docs


def _default(value: Any) -> str:
    if value is msgspec.NODEFAULT:
        return "(required)"
    if isinstance(value, msgspec.Struct):
        return "(table)"
    return f"`{msgspec.json.encode(value).decode()}`"


def _section(path: str, cls: type[msgspec.Struct], out: list[str]) -> None:
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):  # a subclass that re-declares a field documents it
        docs.update(_field_docs(klass))
    summary = " ".join((cls.__doc__ or "").split())
    out.append(f"\n## `[{path}]`\n")
    if summary:
        out.append(f"{summary}\n")
    out.append("| key | type | default | meaning |")
    out.append("| --- | --- | --- | --- |")
    nested: list[tuple[str, type[msgspec.Struct]]] = []
    for f in info.fields:
        ftype = f.type
        if isinstance(ftype, msgspec.inspect.StructType):
            nested.append((f"{path}.{f.name}", ftype.cls))
            continue
        desc = (_describe(ftype) or "see meaning").replace("|", "\\|")
        default = f.default if f.default is not msgspec.NODEFAULT else msgspec.NODEFAULT
        if f.default_factory is not msgspec.NODEFAULT:
            default = f.default_factory()
        meaning = docs.get(f.name, "").replace("|", "\\|")
        out.append(f"| `{f.name}` | {desc} | {_default(default)} | {meaning} |")
        if isinstance(ftype, msgspec.inspect.DictType) and isinstance(
            ftype.value_type, msgspec.inspect.StructType
        ):
            nested.append((f"{path}.{f.name}.<name>", ftype.value_type.cls))
    for sub_path, sub_cls in nested:
        _section(sub_path, sub_cls, out)


def render() -> str:
    """The whole configuration reference page as Markdown."""
    out = [HEADER]
    info = msgspec.inspect.type_info(Settings)
    assert isinstance(info, msgspec.inspect.StructType)
    for f in info.fields:
        assert isinstance(f.type, msgspec.inspect.StructType)
        _section(f.name, f.type.cls, out)
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
