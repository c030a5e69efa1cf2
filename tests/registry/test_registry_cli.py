"""``percept models|promote|rollback|ledger`` (cli/models.py) against a real sqlite MLflow."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from cli import models as models_cli

pytestmark = pytest.mark.integration


@pytest.fixture
def run(monkeypatch):
    app = typer.Typer()
    models_cli.register(app)
    runner = CliRunner()
    monkeypatch.setenv("PERCEPT_ACTOR", "cli-test")
    return lambda *args: runner.invoke(app, list(args))


def last_json(result) -> list:
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_models_lists_versions_as_table_and_json(registry_home, add_version, run):
    empty = run("models", "--json")
    assert empty.exit_code == 0 and last_json(empty) == []
    add_version(hota=41.25, map50=0.5, latency_ms_b1=9.0)
    add_version(hota=43.0, map50=0.5, latency_ms_b1=9.0)
    listed = last_json(run("models", "--json"))
    assert [(v["version"], v["metrics"]["hota"], v["lineage"]["git_sha"]) for v in listed] == [
        (2, 43.0, "sha1"), (1, 41.25, "sha0")]
    table = run("models")
    assert table.exit_code == 0
    assert "41.2" in table.stdout and "sha0" in table.stdout


def test_promote_rollback_ledger(registry_home, add_version, run):
    for hota in (40.0, 41.0):
        add_version(hota=hota, map50=0.5, latency_ms_b1=9.0)
    assert run("promote", "1", "--reason", "bootstrap").exit_code == 0
    assert run("promote", "2", "--reason", "try v2").exit_code == 0
    back = run("rollback", "--reason", "v2 misses cyclists")
    assert back.exit_code == 0 and "v2 -> v1" in back.stdout
    entries = last_json(run("ledger", "--json"))
    assert [(e["action"], e["from_version"], e["to_version"], e["actor"]) for e in entries] == [
        ("rollback", 2, 1, "cli-test"), ("promote", 1, 2, "cli-test"), ("promote", None, 1, "cli-test")]
    assert [v["aliases"] for v in last_json(run("models", "--json"))] == [[], ["champion"]]
    table = run("ledger")
    assert table.exit_code == 0 and "rollback" in table.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (("rollback", "--reason", "r"), "nothing to roll back to"),
        (("promote", "9", "--reason", "r"), "no version 9"),
        (("models", "--model", "it's"), "quotes"),
    ],
)
def test_user_errors_are_one_sentence_and_exit_1(registry_home, add_version, run, args, message):
    add_version(hota=40.0)
    result = run(*args)
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("args", [("ledger", "--json"), ("promote", "1", "--reason", "r")])
def test_unreachable_registry_is_one_sentence_and_exit_1(run, closed_port, monkeypatch, args):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    result = run(*args)
    assert result.exit_code == 1
    assert f"Cannot reach the MLflow registry at http://127.0.0.1:{closed_port}" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("env, expected", [({"PERCEPT_ACTOR": "percept-retrain"}, "percept-retrain"),
                                           ({"PERCEPT_ACTOR": "", "USER": "ann"}, "ann@")])
def test_actor(monkeypatch, env, expected):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert models_cli.actor().startswith(expected)
