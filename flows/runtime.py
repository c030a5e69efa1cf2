"""How the flows reach Ray, Prefect and MLflow: the embedded default or a cluster.

Only environment variables switch between the two modes; the code paths are the same.

| | nothing set (embedded default) | set (cluster) |
|---|---|---|
| MLflow | ``sqlite:///$PERCEPT_HOME/mlflow.db`` (registry.store decides) | ``MLFLOW_TRACKING_URI`` |
| Prefect | temporary local server started by Prefect itself | ``PREFECT_API_URL`` |
| Ray | ``ray.init()`` local, temp dir under ``$RAY_TMPDIR`` or ``$PERCEPT_HOME/ray`` | ``RAY_ADDRESS`` |

Ray workers do not share the driver's environment on a cluster, so everything a worker needs to
reach the same state (tracking URI, ``PERCEPT_HOME``, where our code is) travels in the job's
``runtime_env``. Nothing here runs at import.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from perception.config import percept_home

# The folder holding perception/, registry/, flows/ (the percept source checkout).
SOURCE_ROOT = Path(__file__).resolve().parent.parent
_CODE_PACKAGES = ("perception", "registry", "flows")
# Unix socket paths are limited to 107 bytes; Ray appends ~60 characters to its temp dir.
_MAX_RAY_TMP_LEN = 45


@dataclass(frozen=True)
class Runtime:
    """Where this process's flows will send their work. ``None`` means the embedded default."""

    percept_home: Path
    mlflow_uri: str
    prefect_api_url: str | None
    ray_address: str | None

    @property
    def mode(self) -> str:
        local_mlflow = self.mlflow_uri == f"sqlite:///{self.percept_home / 'mlflow.db'}"
        cluster = bool(self.prefect_api_url or self.ray_address) or not local_mlflow
        return "cluster" if cluster else "embedded"

    def describe(self) -> str:
        """One line for the CLI: which servers this run will use."""
        from registry.store import redact

        return (
            f"{self.mode}: MLflow {redact(self.mlflow_uri)}; "
            f"Prefect {redact(self.prefect_api_url) if self.prefect_api_url else 'temporary local server'}; "
            f"Ray {self.ray_address or 'local'}; PERCEPT_HOME {self.percept_home}"
        )


def current_runtime() -> Runtime:
    """The runtime the environment variables select right now."""
    from registry.store import tracking_uri

    return Runtime(
        percept_home=percept_home(),
        mlflow_uri=tracking_uri(),
        prefect_api_url=os.environ.get("PREFECT_API_URL") or None,
        ray_address=os.environ.get("RAY_ADDRESS") or None,
    )


def worker_env() -> dict[str, str]:
    """Environment variables every Ray worker needs to log into the same MLflow and PERCEPT_HOME."""
    from registry.store import tracking_uri

    env = {"PERCEPT_HOME": str(percept_home()), "MLFLOW_TRACKING_URI": tracking_uri()}
    for var in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        if os.environ.get(var):
            env[var] = os.environ[var]
    return env


def short_enough(preferred: Path, fallback: Path) -> Path:
    """``preferred`` unless it would overflow Ray's socket paths (a deep PERCEPT_HOME); then ``fallback``."""
    return preferred if len(str(preferred)) <= _MAX_RAY_TMP_LEN else fallback


def _ray_tmp_dir() -> Path:
    base = short_enough(
        Path(os.environ.get("RAY_TMPDIR") or percept_home() / "ray"),
        Path(tempfile.gettempdir()) / f"percept-ray-{os.getuid()}",
    )
    base.mkdir(parents=True, exist_ok=True)
    return base


def _local_auth_token(tmp_dir: Path) -> None:
    """Keep Ray's token (auth is on by default since 2.59) under our state instead of ``~/.ray``."""
    if any(os.environ.get(v) for v in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")):
        return
    token = tmp_dir / "auth_token"
    if not token.exists():
        token.write_text(secrets.token_hex(32))
        token.chmod(0o600)
    os.environ["RAY_AUTH_TOKEN_PATH"] = str(token)


def ensure_ray(*, num_cpus: int | None = None, dashboard: bool = True) -> None:
    """Connect to ``RAY_ADDRESS`` or start a local Ray once per process; later calls are no-ops.

    Local start only: ``num_cpus`` defaults to all cores; ``dashboard`` (bound to 127.0.0.1) costs
    a few seconds and ~100 MB, so tests turn it off.
    """
    import ray

    if ray.is_initialized():
        return
    env = worker_env()
    address = os.environ.get("RAY_ADDRESS") or None
    if address:
        import importlib

        modules = [importlib.import_module(p) for p in _CODE_PACKAGES]
        ray.init(
            address=address,
            runtime_env={"env_vars": env, "py_modules": modules},
            logging_level="WARNING",
        )
        return
    tmp_dir = _ray_tmp_dir()
    _local_auth_token(tmp_dir)
    pythonpath = os.pathsep.join(p for p in (str(SOURCE_ROOT), os.environ.get("PYTHONPATH")) if p)
    ray.init(
        num_cpus=num_cpus,
        _temp_dir=str(tmp_dir),
        include_dashboard=dashboard,
        dashboard_host="127.0.0.1",
        runtime_env={"env_vars": {**env, "PYTHONPATH": pythonpath}},
        logging_level="WARNING",
        configure_logging=True,
    )


def ray_has_gpus() -> bool:
    """Whether the connected Ray cluster offers at least one GPU."""
    import ray

    return float(ray.cluster_resources().get("GPU", 0.0)) >= 1.0


def git_lineage(root: Path = SOURCE_ROOT) -> dict[str, str]:
    """``{"git_sha": ..., "git_dirty": "true"|"false"}`` of the percept source; "unknown" outside git."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    sha = git("rev-parse", "HEAD")
    if not sha:
        return {"git_sha": "unknown", "git_dirty": "unknown"}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"git_sha": sha, "git_dirty": "unknown" if status is None else str(bool(status)).lower()}
