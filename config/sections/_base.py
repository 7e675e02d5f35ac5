"""Shared base and constrained types for configuration sections."""

from __future__ import annotations

from typing import Annotated, TypeAlias

import msgspec


class Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A configuration section: frozen, keyword-only, unknown keys are errors."""


Percent: TypeAlias = Annotated[float, msgspec.Meta(gt=0, le=100)]
"""A percentage in (0, 100]."""
NonNegPercent: TypeAlias = Annotated[float, msgspec.Meta(ge=0, le=100)]
"""A percentage in [0, 100]."""
PosFloat: TypeAlias = Annotated[float, msgspec.Meta(gt=0)]
"""A number greater than 0."""
NonNegFloat: TypeAlias = Annotated[float, msgspec.Meta(ge=0)]
"""A number greater than or equal to 0."""
PosInt: TypeAlias = Annotated[int, msgspec.Meta(ge=1)]
"""An integer of at least 1."""
NonNegInt: TypeAlias = Annotated[int, msgspec.Meta(ge=0)]
"""An integer of at least 0."""
Seconds: TypeAlias = Annotated[float, msgspec.Meta(gt=0)]
"""A duration in seconds, greater than 0."""
