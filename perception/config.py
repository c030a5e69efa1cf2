"""Typed component configs and where percept keeps its state.

Each component owns a frozen dataclass of defaults. ``override`` applies a mapping (from
``params.yaml`` or the CLI) that may only set keys the dataclass already has, so a typo fails
loudly instead of being ignored.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, TypeVar

import yaml

C = TypeVar("C")


def override(config: C, values: Mapping[str, Any] | None) -> C:
    """A copy of ``config`` with ``values`` applied; unknown keys raise ``ValueError``.

    Tuple fields accept lists (YAML has no tuples). Nested dataclass fields accept mappings.
    """
    if values is not None and not isinstance(values, Mapping):
        raise ValueError(f"{type(config).__name__} overrides must be a mapping, got {values!r}")
    if not values:
        return config
    known = {f.name: f for f in dataclasses.fields(config)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(
            f"unknown {type(config).__name__} key(s) {unknown}; known keys: {sorted(known)}"
        )
    changes: dict[str, Any] = {}
    for key, value in values.items():
        current = getattr(config, key)
        if dataclasses.is_dataclass(current) and isinstance(value, Mapping):
            value = override(current, value)
        elif isinstance(current, tuple) and isinstance(value, list):
            value = tuple(value)
        changes[key] = value
    return dataclasses.replace(config, **changes)


def as_dict(config: Any) -> dict[str, Any]:
    """The resolved config as plain data (for MLflow params and YAML)."""
    return dataclasses.asdict(config)


def percept_home() -> Path:
    """Where the embedded default keeps state: ``$PERCEPT_HOME``, else ``./.percept``."""
    return Path(os.environ.get("PERCEPT_HOME", ".percept")).expanduser().resolve()


def load_params(path: str | os.PathLike[str] = "params.yaml") -> dict[str, Any]:
    """``params.yaml`` as a dict; a missing file gives ``{}`` (every component has defaults)."""
    p = Path(path)
    if not p.exists():
        return {}
    data = yaml.safe_load(p.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{p} must hold a mapping at the top level, got {type(data).__name__}")
    return data
