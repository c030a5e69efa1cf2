"""``percept ingest`` errors: one sentence on stderr, exit 1, before any Prefect server starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/missing", "--name", "demo"], "neither an existing file or folder"),
        (["synth:frames=x", "--name", "demo"], "is not an integer"),
        (["synth:colour=red", "--name", "demo"], "key=value"),
        (["synth", "--name", "latest"], "dataset name 'latest'"),
        (["synth", "--name", "a/b"], "dataset name 'a/b'"),
        (["{tmp}", "--name", "demo"], "neither dataset.yaml nor MOTChallenge"),
    ],
)
def test_ingest_errors_are_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.setenv("PERCEPT_WORKSPACE", str(tmp_path / "ws"))
    result = CliRunner().invoke(app, ["ingest", *(a.format(tmp=tmp_path) for a in args)])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize(
    ("args", "code"), [([], 2), (["synth"], 2), (["synth", "--name", "d", "--max-frames", "0"], 2)]
)
def test_ingest_usage_errors(args: list[str], code: int) -> None:
    assert CliRunner().invoke(app, ["ingest", *args]).exit_code == code
