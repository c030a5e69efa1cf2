"""Where the registry lives and how we talk to it: one MLflow client per call, errors at the edge.

Embedded default: ``sqlite:///$PERCEPT_HOME/mlflow.db`` with artifacts under
``$PERCEPT_HOME/mlartifacts``. Cluster: ``MLFLOW_TRACKING_URI`` points at an ``mlflow server``,
which decides where artifacts go. Only the environment switches between the two.

Every registry operation runs inside :func:`session`, which

- hands out an ``MlflowClient`` bound to explicit URIs (never MLflow's global tracking state),
- keeps MLflow's HTTP retries short unless the user set them (MLflow's defaults retry a dead
  server for about four minutes), and
- turns "cannot reach the registry" into one exception type, :class:`RegistryUnavailable`.
"""

from __future__ import annotations

import os
import threading
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from perception.config import override, percept_home

DEFAULT_MODEL_NAME = "percept-detector"
DEFAULT_EXPERIMENT = "percept-retrain"

# Used only while one of our calls runs, and only for variables the user has not set.
# Two retries with backoff factor 1 give up on a closed port in about 2-3 s.
_SHORT_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
# os.environ is process-wide: registry calls in one process take turns (re-entrant for nesting).
_ENV_LOCK = threading.RLock()


class RegistryUnavailable(RuntimeError):
    """The MLflow tracking/registry server (or its sqlite file) cannot be reached."""


@dataclass(frozen=True)
class RegistryConfig:
    """Names in MLflow (``params.yaml`` key ``registry:``).

    model_name: the registered model that holds detector bundles; the service resolves
        ``models:/<model_name>@champion``. A second name gives a second, independent
        champion/challenger line (e.g. per camera rig) at the cost of a second ledger to watch.
    experiment: the experiment that receives bundle runs when the caller has no run of its own.
    """

    model_name: str = DEFAULT_MODEL_NAME
    experiment: str = DEFAULT_EXPERIMENT

    def __post_init__(self) -> None:
        for field in ("model_name", "experiment"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"RegistryConfig.{field} must be a non-empty string, got {value!r}")
        check_name(self.model_name)


def registry_config(params: Mapping[str, Any] | None) -> RegistryConfig:
    """The registry config from a ``params.yaml`` mapping (its ``registry:`` key); unknown keys raise."""
    return override(RegistryConfig(), (params or {}).get("registry"))


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///$PERCEPT_HOME/mlflow.db``."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if uri:
        return uri
    return f"sqlite:///{percept_home() / 'mlflow.db'}"


def artifact_root() -> Path:
    """Where experiments we create keep their artifacts when the store is local."""
    return percept_home() / "mlartifacts"


def is_remote(uri: str) -> bool:
    """True for an HTTP(S)/Databricks tracking server, which chooses artifact locations itself."""
    return uri == "databricks" or urllib.parse.urlparse(uri).scheme in {"http", "https", "databricks"}


def client() -> MlflowClient:
    """An ``MlflowClient`` bound to :func:`tracking_uri` for both tracking and the registry.

    Prefer :func:`session`, which also shortens retries and converts connection errors.
    """
    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@contextmanager
def session() -> Iterator[MlflowClient]:
    """A client for one registry operation; unreachable servers raise :class:`RegistryUnavailable`."""
    uri = tracking_uri()
    with _ENV_LOCK:
        added = [k for k in _SHORT_HTTP_DEFAULTS if k not in os.environ]
        os.environ.update({k: _SHORT_HTTP_DEFAULTS[k] for k in added})
        try:
            yield client()
        except RegistryUnavailable:
            raise
        except Exception as exc:
            cause = unreachable_cause(exc)
            if cause is None:
                raise
            raise RegistryUnavailable(
                f"Cannot reach the MLflow registry at {redact(uri)} ({cause}): start it or point "
                "MLFLOW_TRACKING_URI at a running server."
            ) from exc
        finally:
            for key in added:
                os.environ.pop(key, None)


def ensure_experiment(name: str, *, mlflow_client: MlflowClient | None = None) -> str:
    """The id of experiment ``name``, created if missing (with a local artifact location when embedded)."""
    if not name or not name.strip():
        raise ValueError(f"experiment name must be non-empty, got {name!r}")
    if mlflow_client is None:
        with session() as c:
            return ensure_experiment(name, mlflow_client=c)
    c = mlflow_client
    found = c.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None if is_remote(c.tracking_uri) else (artifact_root() / name).as_uri()
    try:
        return c.create_experiment(name, artifact_location=location)
    except MlflowException as exc:
        # Another process (a Ray worker) created it between our get and create.
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return c.get_experiment_by_name(name).experiment_id


def error_code(exc: BaseException) -> str | None:
    """MLflow's error code (``RESOURCE_DOES_NOT_EXIST`` ...) or None for other exceptions."""
    return exc.error_code if isinstance(exc, MlflowException) else None


def unreachable_cause(exc: BaseException) -> str | None:
    """A short name for why the store could not be reached, or None if ``exc`` is something else.

    MLflow wraps connection failures in a plain ``MlflowException``; the original
    ``requests``/``sqlalchemy`` error survives in the exception chain.
    """
    import requests
    import sqlalchemy.exc

    transport = (
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        requests.exceptions.RetryError,
        sqlalchemy.exc.OperationalError,
        ConnectionError,
        TimeoutError,
    )
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, transport):
            return type(current).__name__
        current = current.__cause__ or current.__context__
    return None


def redact(uri: str) -> str:
    """``uri`` without user:password, for messages."""
    parts = urllib.parse.urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{host}"))


def quietly(action: Callable[[], Any]) -> None:
    """Run a clean-up step on an error path; its own failure must not hide the original error."""
    try:
        action()
    except Exception:
        pass


def check_name(name: str) -> str:
    """``name`` if usable as a model/alias name; ValueError otherwise.

    Names go into MLflow search filters, which have no reliable quoting.
    """
    if not isinstance(name, str) or not name.strip() or any(ch in name for ch in "'\"`\\"):
        raise ValueError(f"name {name!r} must be non-empty and free of quotes and backslashes")
    return name
