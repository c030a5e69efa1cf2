"""Scheduled and data-triggered retraining: a served Prefect deployment of ``retrain``.

Schedules need a real Prefect server (``flow.serve(cron=...)`` refuses the temporary one). With
``PREFECT_API_URL`` set, percept uses that server. Without it, ``percept schedule`` starts
``prefect server start`` in the background itself: bound to 127.0.0.1 on a free port, its
database, pid and log under ``$PERCEPT_HOME/prefect-server/``; ``percept schedule --stop``
pauses the schedule and stops that server.

New data triggers retraining from the ingest side, as a deployment run (not an automation, which
would need Prefect's event system on the server): ``trigger_retrain_on_new_version(version)``
creates a run of ``retrain/percept-retrain`` for that dataset when the deployment exists on a
reachable server, keyed on the dataset md5 so ingesting the same content again starts nothing new.
The process serving the deployment picks the run up; with no server or no deployment the hook
does nothing and says so.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from perception.config import percept_home

DEPLOYMENT_NAME = "percept-retrain"
FLOW_NAME = "retrain"
SERVER_DIR = "prefect-server"
_RECORD = "server.json"


@dataclass(frozen=True)
class ServerRecord:
    """The background Prefect server percept started: its process and where its API answers."""

    pid: int
    api_url: str
    log: str


def check_cron(cron: str) -> str:
    """``cron`` if Prefect accepts it as a schedule, else ``ValueError`` naming it."""
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=cron)
    except ValueError:
        raise ValueError(
            f"invalid cron expression {cron!r}; expected five fields, e.g. '0 3 * * *'"
        ) from None
    return cron


def server_dir() -> Path:
    return percept_home() / SERVER_DIR


def read_record() -> ServerRecord | None:
    """The record of percept's background server if that process is still alive, else None."""
    path = server_dir() / _RECORD
    try:
        record = ServerRecord(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    return record if _alive(record.pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def api_url() -> str | None:
    """``PREFECT_API_URL``, else percept's running background server, else None (temporary server)."""
    url = os.environ.get("PREFECT_API_URL")
    if url:
        return url
    record = read_record()
    return record.api_url if record else None


def _healthy(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_server(*, port: int | None = None, timeout_s: float = 120.0) -> tuple[str, bool]:
    """``(api_url, started_now)``: the configured or already running server, else a new one.

    A new server: ``python -m prefect server start --host 127.0.0.1`` in its own session (so
    it outlives this process), database ``$PERCEPT_HOME/prefect-server/prefect.db``. Raises
    ``RuntimeError`` with the tail of its log if it does not answer within ``timeout_s``.
    """
    url = api_url()
    if url:
        return url, False
    folder = server_dir()
    folder.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}/api"
    log = folder / "server.log"
    env = {
        **os.environ,
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{folder / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": os.environ.get("PREFECT_UI_ENABLED", "true"),
    }
    env.pop("PREFECT_API_URL", None)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    record = ServerRecord(pid=proc.pid, api_url=url, log=str(log))
    (folder / _RECORD).write_text(json.dumps(record.__dict__), encoding="utf-8")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if _healthy(url):
            return url, True
        time.sleep(0.5)
    stop_server()
    tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])
    raise RuntimeError(
        f"prefect server did not come up on {url} within {timeout_s:.0f} s; log {log}:\n{tail}"
    )


def stop_server(timeout_s: float = 15.0) -> bool:
    """Stop percept's background server (SIGTERM, then SIGKILL); False if none was running."""
    path = server_dir() / _RECORD
    record = read_record()
    path.unlink(missing_ok=True)
    if record is None:
        return False
    try:
        os.killpg(record.pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _alive(record.pid):
        time.sleep(0.2)
    if _alive(record.pid):
        try:
            os.killpg(record.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return True


@contextmanager
def using_api(url: str) -> Iterator[None]:
    """Point Prefect's client at ``url`` for the block (settings are read at import otherwise)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield


def serve_retrain(*, cron: str, parameters: Mapping[str, Any] | None = None) -> None:
    """Serve the ``retrain`` deployment on ``cron`` until interrupted (blocks).

    ``pause_on_shutdown=False``: stopping this process leaves the schedule active, so runs queue
    up and start when it is served again; ``percept schedule --stop`` pauses it.
    """
    from flows.retrain import retrain

    check_cron(cron)
    url, _ = ensure_server()
    with using_api(url):
        retrain.serve(
            name=DEPLOYMENT_NAME,
            cron=cron,
            parameters=dict(parameters or {}),
            pause_on_shutdown=False,
            print_starting_message=False,
        )


def register_deployment(*, cron: str | None, parameters: Mapping[str, Any] | None = None) -> str:
    """Create or update the deployment without serving it (for tests and for ``--list``); its id."""
    from flows.retrain import retrain

    if cron is not None:
        check_cron(cron)
    url = api_url()
    if url is None:
        raise RuntimeError(
            "no Prefect server to hold the deployment: set PREFECT_API_URL or run `percept schedule`"
        )
    with using_api(url):
        deployment = retrain.to_deployment(name=DEPLOYMENT_NAME, cron=cron, parameters=dict(parameters or {}))
        return str(deployment.apply())


def list_schedules() -> list[dict[str, Any]]:
    """Deployments of ``retrain`` on the reachable server: name, paused, cron schedules."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    url = api_url()
    if url is None:
        return []
    with using_api(url), get_client(sync_client=True) as client:
        found = client.read_deployments(flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])))
    return [
        {
            "deployment": f"{FLOW_NAME}/{d.name}",
            "paused": bool(d.paused),
            "schedules": [
                {"cron": getattr(s.schedule, "cron", None) or str(s.schedule), "active": bool(s.active)}
                for s in d.schedules
            ],
            "parameters": dict(d.parameters or {}),
            "api_url": url,
        }
        for d in found
    ]


def pause_schedules() -> int:
    """Pause every ``retrain`` deployment on the reachable server; how many were paused."""
    from prefect import get_client

    items = list_schedules()
    url = api_url()
    if not items or url is None:
        return 0
    with using_api(url), get_client(sync_client=True) as client:
        for item in items:
            dep = client.read_deployment_by_name(item["deployment"])
            client.pause_deployment(dep.id)
    return len(items)


def trigger_retrain_on_new_version(
    version: Any, *, extra_parameters: Mapping[str, Any] | None = None
) -> str | None:
    """Start a run of ``retrain/percept-retrain`` for ``version`` (a ``DatasetVersion``); its id.

    Returns None (and starts nothing) when no server is reachable or the deployment does not
    exist. The idempotency key is name + md5: the same content never triggers twice.
    """
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    url = api_url()
    if url is None:
        return None
    parameters = {"dataset": version.name, **dict(extra_parameters or {})}
    with using_api(url):
        try:
            run = run_deployment(
                f"{FLOW_NAME}/{DEPLOYMENT_NAME}",
                parameters=parameters,
                timeout=0,
                as_subflow=False,
                idempotency_key=f"new-data:{version.name}:{version.md5}",
                tags=["new-data"],
            )
        except ObjectNotFound:
            return None
    return str(run.id)
