"""Load :class:`~config.settings.Settings` from TOML plus environment overrides.

Environment variables ``TRADINGD_SECTION__KEY=value`` override file values (``__``
separates levels; values are parsed as TOML literals when they parse, else taken as
strings). Validation happens once, here; every problem is reported as
``path.to.key: expected <what>, got <value>``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from config.settings import Settings

ENV_PREFIX = "TRADINGD_"
_PATH_RE = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_UNKNOWN_RE = re.compile(r"Object contains unknown field `(?P<field>[^`]+)`")
_MISSING_RE = re.compile(r"Object missing required field `(?P<field>[^`]+)`")


class ConfigError(Exception):
    """Raised when configuration cannot be loaded; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str], source: str = "") -> None:
        self.errors = errors
        self.source = source
        where = f" in {source}" if source else ""
        super().__init__(f"invalid configuration{where}:\n  " + "\n  ".join(errors))


def load_settings(
    path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None
) -> Settings:
    """Read ``path`` (None: defaults only), apply ``env`` overrides, validate."""
    raw: dict[str, Any] = {}
    source = str(path) if path is not None else "<defaults>"
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([f"cannot read {path}: {exc.strerror or exc}"], source) from exc
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"not valid TOML: {exc}"], source) from exc
    overrides = env_overrides(os.environ if env is None else env)
    _merge(raw, overrides)
    return settings_from_mapping(raw, source)


def env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """Nested dict of the ``TRADINGD_A__B=value`` variables in ``env``."""
    out: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not parts:
            continue
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = _parse_env_value(value)
    return out


def _parse_env_value(value: str) -> Any:
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> None:
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v


def settings_from_mapping(raw: Mapping[str, Any], source: str = "") -> Settings:
    """Validate a plain mapping into :class:`Settings`, collecting one error per section."""
    errors: list[str] = []
    known = {f.name for f in msgspec.structs.fields(Settings)}
    for key in raw:
        if key not in known:
            errors.append(f"{key}: unknown section (known: {', '.join(sorted(known))})")
    for f in msgspec.structs.fields(Settings):
        if f.name in raw:
            try:
                msgspec.convert(raw[f.name], f.type, strict=True)
            except msgspec.ValidationError as exc:
                errors.append(describe_error(str(exc), raw, prefix=f.name))
    if errors:
        raise ConfigError(errors, source)
    try:
        return msgspec.convert(dict(raw), Settings, strict=True)
    except msgspec.ValidationError as exc:  # cross-section checks in __post_init__
        raise ConfigError([describe_error(str(exc), raw)], source) from exc


def describe_error(message: str, raw: Mapping[str, Any], prefix: str = "") -> str:
    """Turn a msgspec validation message into ``key.path: expected X, got Y``."""
    m = _PATH_RE.search(message)
    sub = m.group("path") if m else ""
    body = message[: m.start()] if m else message
    parts = _split_path(sub)
    if prefix:
        parts = [prefix, *parts]
    um = _UNKNOWN_RE.search(body)
    if um:
        parts.append(um.group("field"))
        return f"{_join(parts)}: unknown key"
    mm = _MISSING_RE.search(body)
    if mm:
        parts.append(mm.group("field"))
        return f"{_join(parts)}: required key is missing"
    expected = _expected_for(parts)
    got = _lookup(raw, parts)
    # A table that has the right shape but fails its section's own check (__post_init__):
    # msgspec's message is that check's explanation, so pass it on.
    if expected is None or isinstance(got, dict):
        return f"{_join(parts)}: {body[0].lower() + body[1:] if body else 'invalid value'}"
    return f"{_join(parts)}: expected {expected}, got {_show(got)}"


def _split_path(path: str) -> list[str]:
    # msgspec paths look like `.risk.max_position_pct` or `.actors.enabled[2]`.
    return [p for p in re.split(r"\.|\[(\d+)\]", path) if p]


def _join(parts: list[str]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "<root>"


def _lookup(raw: Any, parts: list[str]) -> Any:
    node = raw
    for p in parts:
        if isinstance(node, Mapping) and p in node:
            node = node[p]
        elif isinstance(node, list) and p.isdigit() and int(p) < len(node):
            node = node[int(p)]
        else:
            return _MISSING
    return node


class _Missing:
    def __repr__(self) -> str:
        return "nothing"


_MISSING = _Missing()


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, list):
        return "a list"
    return str(v)


def _expected_for(parts: list[str]) -> str | None:
    info: Any = msgspec.inspect.type_info(Settings)
    for p in parts:
        info = _unwrap(info)
        if isinstance(info, msgspec.inspect.StructType):
            match = [f for f in info.fields if f.name == p]
            if not match:
                return None
            info = match[0].type
        elif isinstance(info, msgspec.inspect.DictType):
            info = info.value_type
        elif isinstance(info, (msgspec.inspect.ListType, msgspec.inspect.TupleType)):
            info = getattr(info, "item_type", None)
        else:
            return None
    return _describe(info)


def _unwrap(info: Any) -> Any:
    if isinstance(info, msgspec.inspect.UnionType):
        non_none = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
        if len(non_none) == 1:
            return non_none[0]
    return info


def _range(info: Any) -> str:
    lo = "(" if info.gt is not None else "["
    lo_v = info.gt if info.gt is not None else info.ge
    hi = ")" if info.lt is not None else "]"
    hi_v = info.lt if info.lt is not None else info.le
    if lo_v is None and hi_v is None:
        return ""
    if hi_v is None:
        return f" {'>' if info.gt is not None else '>='} {_num(lo_v)}"
    if lo_v is None:
        return f" {'<' if info.lt is not None else '<='} {_num(hi_v)}"
    return f" in {lo}{_num(lo_v)}, {_num(hi_v)}{hi}"


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def _describe(info: Any) -> str | None:
    i = msgspec.inspect
    info = _unwrap(info)
    if isinstance(info, i.FloatType):
        return "a number" + _range(info)
    if isinstance(info, i.IntType):
        return "an integer" + _range(info)
    if isinstance(info, i.BoolType):
        return "true or false"
    if isinstance(info, i.StrType):
        return "a string"
    if isinstance(info, i.LiteralType):
        return "one of " + ", ".join(repr(v) for v in info.values)
    if isinstance(info, i.EnumType):
        return "one of " + ", ".join(repr(m.value) for m in info.cls)
    if isinstance(info, (i.ListType, i.TupleType, i.VarTupleType)):
        return "a list"
    if isinstance(info, (i.DictType, i.StructType)):
        return "a table"
    return None


def dump_toml_defaults() -> dict[str, Any]:
    """The default configuration as a plain mapping (used to document every key)."""
    result: dict[str, Any] = msgspec.to_builtins(Settings())
    return result
