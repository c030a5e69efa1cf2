"""Validation shared by the tracker configs: each failure names the field and the bad value."""

from __future__ import annotations

import math
from typing import Any


def check_fraction(config: Any, *names: str, allow_zero: bool = True) -> None:
    """Each named field must be a number in [0, 1] ((0, 1] when ``allow_zero`` is False)."""
    for name in names:
        value = getattr(config, name)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not ((value >= 0 if allow_zero else value > 0) and value <= 1):
            span = "[0, 1]" if allow_zero else "(0, 1]"
            raise ValueError(f"{type(config).__name__}.{name} must be in {span}, got {value!r}")


def check_positive(config: Any, *names: str) -> None:
    """Each named field must be a finite number > 0."""
    for name in names:
        value = getattr(config, name)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{type(config).__name__}.{name} must be a finite number > 0, got {value!r}")


def check_count(config: Any, name: str, minimum: int) -> None:
    """The named field must be an int >= ``minimum``."""
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{type(config).__name__}.{name} must be an integer >= {minimum}, got {value!r}")
