"""Hypothesis strategies built from the message catalogue's own type information."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import strategies as st

_text = st.text(max_size=20)
_i = msgspec.inspect


def _for(info: Any) -> st.SearchStrategy[Any]:
    if isinstance(info, _i.StructType):
        return struct_strategy(info.cls)
    if isinstance(info, _i.UnionType):
        return st.one_of(*[_for(t) for t in info.types])
    if isinstance(info, _i.NoneType):
        return st.none()
    if isinstance(info, _i.BoolType):
        return st.booleans()
    if isinstance(info, _i.IntType):
        lo = info.ge if info.ge is not None else (info.gt + 1 if info.gt is not None else None)
        hi = info.le if info.le is not None else (info.lt - 1 if info.lt is not None else None)
        lo = -(2**63) if lo is None else lo
        hi = 2**63 - 1 if hi is None else hi
        return st.integers(min_value=lo, max_value=hi)
    if isinstance(info, _i.FloatType):
        return st.floats(allow_nan=False, allow_infinity=False, width=64)
    if isinstance(info, _i.StrType):
        return st.text(
            min_size=info.min_length or 0, max_size=min(info.max_length or 20, 20) or 0
        ).filter(lambda s: len(s) >= (info.min_length or 0))
    if isinstance(info, _i.DecimalType):
        return st.decimals(allow_nan=False, allow_infinity=False, places=6).map(
            lambda d: d.normalize() if d == d.to_integral() else d
        ) | st.just(Decimal("0.1"))
    if isinstance(info, _i.EnumType):
        return st.sampled_from(list(info.cls))
    if isinstance(info, _i.LiteralType):
        return st.sampled_from(info.values)
    if isinstance(info, (_i.VarTupleType,)):
        return st.lists(_for(info.item_type), max_size=3).map(tuple)
    if isinstance(info, _i.ListType):
        return st.lists(_for(info.item_type), max_size=3)
    if isinstance(info, _i.DictType):
        return st.dictionaries(_text, _for(info.value_type), max_size=3)
    if isinstance(info, _i.AnyType):
        return st.one_of(st.integers(-1000, 1000), _text, st.booleans(), st.none())
    raise NotImplementedError(f"no strategy for {info!r}")


def struct_strategy(cls: type[msgspec.Struct]) -> st.SearchStrategy[Any]:
    """Instances of ``cls`` with every field drawn from its declared type and constraints."""
    info = _i.type_info(cls)
    assert isinstance(info, _i.StructType)
    return st.builds(cls, **{f.name: _for(f.type) for f in info.fields})
