"""config.override / as_dict / percept_home / load_params."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from perception.config import as_dict, load_params, override, percept_home


@dataclass(frozen=True)
class Inner:
    size: tuple[int, int] = (320, 320)
    mean: float = 0.5


@dataclass(frozen=True)
class Outer:
    lr: float = 0.01
    names: tuple[str, ...] = ("car",)
    inner: Inner = field(default_factory=Inner)

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


@pytest.mark.parametrize(
    "values, expect, error",
    [
        (None, Outer(), None),
        ({}, Outer(), None),
        ({"lr": 0.1}, Outer(lr=0.1), None),
        ({"names": ["car", "bus"]}, Outer(names=("car", "bus")), None),
        ({"inner": {"size": [64, 48]}}, Outer(inner=Inner(size=(64, 48))), None),
        ({"inner": {"mean": 0.2}, "lr": 1.0}, Outer(lr=1.0, inner=Inner(mean=0.2)), None),
        ({"inner": Inner(mean=0.3)}, Outer(inner=Inner(mean=0.3)), None),
        ({"lrr": 0.1}, None, r"unknown Outer key\(s\) \['lrr'\]; known keys: \['inner', 'lr', 'names'\]"),
        ({"inner": {"sise": [1, 1]}}, None, r"unknown Inner key\(s\) \['sise'\]"),
        ({"lr": -1.0}, None, "lr must be > 0, got -1.0"),  # the dataclass's own validation runs
        ([("lr", 0.1)], None, "Outer overrides must be a mapping"),
    ],
)
def test_override(values, expect, error):
    base = Outer()
    if error:
        with pytest.raises(ValueError, match=error):
            override(base, values)
        return
    got = override(base, values)
    assert got == expect
    assert base == Outer()  # the input is never mutated


def test_as_dict_is_plain_data():
    assert as_dict(Outer()) == {"lr": 0.01, "names": ("car",), "inner": {"size": (320, 320), "mean": 0.5}}


def test_percept_home_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("PERCEPT_HOME", str(tmp_path / "h"))
    assert percept_home() == (tmp_path / "h").resolve()
    monkeypatch.delenv("PERCEPT_HOME")
    assert percept_home() == Path(".percept").resolve()


@pytest.mark.parametrize(
    "text, expect, error",
    [
        (None, {}, None),
        ("", {}, None),
        ("synth:\n  seed: 3\n", {"synth": {"seed": 3}}, None),
        ("- a\n- b\n", None, "must hold a mapping at the top level, got list"),
    ],
)
def test_load_params(tmp_path, text, expect, error):
    p = tmp_path / "params.yaml"
    if text is not None:
        p.write_text(text)
    if error:
        with pytest.raises(ValueError, match=error):
            load_params(p)
    else:
        assert load_params(p) == expect
