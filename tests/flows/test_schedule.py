"""Schedules and the new-data trigger: cron checks, percept's background Prefect server, deployments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from flows import schedule
from flows.versioning import DatasetVersion


@pytest.mark.parametrize(
    "cron, error",
    [
        ("0 3 * * *", None),
        ("*/15 * * * 1-5", None),
        ("", "invalid cron expression ''"),
        ("99 * * *", "invalid cron expression '99 \\* \\* \\*'"),
        ("every night", "invalid cron expression"),
    ],
)
def test_check_cron(cron, error):
    if error:
        with pytest.raises(ValueError, match=error):
            schedule.check_cron(cron)
    else:
        assert schedule.check_cron(cron) == cron


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PERCEPT_HOME", str(tmp_path))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    return tmp_path


def _write_record(home: Path, pid: int, url: str = "http://127.0.0.1:1/api") -> None:
    folder = home / schedule.SERVER_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "server.json").write_text(json.dumps({"pid": pid, "api_url": url, "log": "x.log"}))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize(
    "record, env_url, expected",
    [
        (None, None, None),  # nothing running: the temporary server
        ("garbage", None, None),
        ("dead", None, None),  # a stale record of a server that died
        ("alive", None, "http://127.0.0.1:1/api"),
        ("alive", "http://prefect.example/api", "http://prefect.example/api"),  # the env wins
    ],
)
def test_api_url_prefers_env_then_a_live_percept_server(home, monkeypatch, record, env_url, expected):
    if record == "garbage":
        (home / schedule.SERVER_DIR).mkdir()
        (home / schedule.SERVER_DIR / "server.json").write_text("{not json")
    elif record == "dead":
        _write_record(home, _dead_pid())
    elif record == "alive":
        _write_record(home, os.getpid())
    if env_url:
        monkeypatch.setenv("PREFECT_API_URL", env_url)
    assert schedule.api_url() == expected


def test_stop_server_without_a_server_says_so(home):
    assert schedule.stop_server() is False
    _write_record(home, _dead_pid())
    assert schedule.stop_server() is False
    assert not (home / schedule.SERVER_DIR / "server.json").exists()


def test_trigger_without_a_server_starts_nothing(home):
    version = DatasetVersion(name="demo", path=home, md5="abc.dir", git_rev="0" * 40, created="now")
    assert schedule.trigger_retrain_on_new_version(version) is None


@pytest.fixture
def harness_api(prefect_api: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    yield prefect_api
    from prefect import get_client

    with get_client(sync_client=True) as client:
        for item in schedule.list_schedules():
            client.delete_deployment(client.read_deployment_by_name(item["deployment"]).id)


@pytest.mark.integration
def test_new_version_triggers_one_run_of_the_deployment(harness_api, home):
    from prefect import get_client

    version = DatasetVersion(name="demo", path=home, md5="abc.dir", git_rev="0" * 40, created="now")
    assert schedule.trigger_retrain_on_new_version(version) is None  # no deployment yet
    schedule.register_deployment(cron="0 3 * * *", parameters={"candidates": 1})
    (item,) = schedule.list_schedules()
    assert item["deployment"] == "retrain/percept-retrain" and item["paused"] is False
    assert item["schedules"] == [{"cron": "0 3 * * *", "active": True}]

    first = schedule.trigger_retrain_on_new_version(version)
    again = schedule.trigger_retrain_on_new_version(version)  # same md5: the same run
    other = schedule.trigger_retrain_on_new_version(
        DatasetVersion(name="demo", path=home, md5="def.dir", git_rev="1" * 40, created="later")
    )
    assert first is not None and first == again and other not in (None, first)
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(first)
    assert run.parameters == {"candidates": 1, "dataset": "demo"} and "new-data" in run.tags

    assert schedule.pause_schedules() == 1
    assert schedule.list_schedules()[0]["paused"] is True


@pytest.mark.integration
def test_schedule_cli_starts_a_server_serves_lists_and_stops(home, tmp_path):
    """``percept schedule --cron`` end to end: its own Prefect server, the served deployment, --stop."""
    import signal
    import time

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PERCEPT_HOME": str(home), "PREFECT_UI_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    percept = [sys.executable, "-m", "cli.main", "schedule"]
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(percept + ["--cron", "0 3 * * *", "--dataset", "demo"], cwd=repo, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        items, deadline = [], time.monotonic() + 240
        while not items and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(1.0)
            try:
                items = schedule.list_schedules()
            except Exception:  # noqa: BLE001 - the server is recorded before it answers
                items = []
        assert items, log.read_text()
        assert items[0]["schedules"] == [{"cron": "0 3 * * *", "active": True}]
        assert items[0]["parameters"] == {"dataset": "demo"}
        url = schedule.api_url()
        assert url.startswith("http://127.0.0.1:") and schedule.ensure_server() == (url, False)  # reused
        listed = subprocess.run(percept + ["--list"], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
        assert "retrain/percept-retrain" in listed.stdout and "0 3 * * *" in listed.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        stopped = subprocess.run(percept + ["--stop"], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
        schedule.stop_server()  # in case --stop itself failed: never leave a server behind
    assert "started a Prefect server at http://127.0.0.1:" in log.read_text()
    assert "paused 1 deployment(s)" in stopped.stdout and "stopped percept's Prefect server" in stopped.stdout
    assert schedule.read_record() is None and schedule.api_url() is None
