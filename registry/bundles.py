"""Model bundles in the MLflow registry: register a folder as a version, list versions, download.

A bundle is a folder of plain files (``model.onnx``, ``preprocess.json``, ``tracker.yaml``,
``report.json``, optionally ``samples.png``). It is logged as the run artifacts ``bundle/`` and
registered with source ``runs:/<run_id>/bundle`` — no MLflow "Model" flavour, nothing pickled.
The MLflow UI links each version to its run, where the files can be browsed.

Version tags: the caller's lineage tags as given (well-known keys in :data:`LINEAGE_KEYS`) plus
every metric as ``metric.<name>``, so listings and the gate never need to read runs.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from perception.config import percept_home
from registry.store import (
    DEFAULT_EXPERIMENT,
    DEFAULT_MODEL_NAME,
    check_name,
    ensure_experiment,
    error_code,
    quietly,
    session,
)

REQUIRED_FILES = ("model.onnx", "preprocess.json", "tracker.yaml", "report.json")
OPTIONAL_FILES = ("samples.png",)
ARTIFACT_PATH = "bundle"
METRIC_TAG_PREFIX = "metric."
# What the flow passes as ``tags``: dataset md5 (DVC), git sha, "true"/"false" for a dirty tree,
# hash of the resolved params, the Prefect flow-run id. Others are kept as given.
LINEAGE_KEYS = ("data_md5", "git_sha", "git_dirty", "params_hash", "prefect_flow_run_id")
_RESERVED_TAG_PREFIXES = (METRIC_TAG_PREFIX, "mlflow.", "percept.")
_BATCH = 100  # MLflow's per-request limit for params and tags


@dataclass(frozen=True)
class ModelVersionInfo:
    """One registered bundle. ``created`` is UTC; ``metrics``/``lineage`` come from version tags."""

    model_name: str
    version: int
    aliases: tuple[str, ...]
    metrics: Mapping[str, float]
    lineage: Mapping[str, str]
    run_id: str | None
    created: datetime
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "version": self.version,
            "aliases": list(self.aliases),
            "metrics": dict(self.metrics),
            "lineage": dict(self.lineage),
            "run_id": self.run_id,
            "created": self.created.isoformat(),
            "source": self.source,
        }


def check_bundle_dir(bundle_dir: Path) -> list[str]:
    """The bundle's file names; ValueError naming what is missing or unexpected."""
    if not bundle_dir.is_dir():
        raise ValueError(f"bundle folder {bundle_dir} does not exist")
    names = sorted(p.name for p in bundle_dir.iterdir())
    missing = [n for n in REQUIRED_FILES if n not in names]
    if missing:
        raise ValueError(f"bundle folder {bundle_dir} lacks {missing}; a bundle holds {REQUIRED_FILES}")
    extra = [n for n in names if n not in REQUIRED_FILES + OPTIONAL_FILES]
    if extra:
        raise ValueError(f"bundle folder {bundle_dir} holds unexpected entries {extra}")
    return names


def register_bundle(
    bundle_dir: str | Path,
    *,
    model_name: str = DEFAULT_MODEL_NAME,
    run_id: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    tags: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    params: Mapping[str, Any] | None = None,
) -> ModelVersionInfo:
    """Log ``bundle_dir`` as run artifacts ``bundle/`` and register it as a new version.

    run_id: log into this (caller-owned, left open) run; None creates a run in ``experiment``
        and ends it FINISHED (FAILED if anything goes wrong).
    tags: lineage, set on the run and on the version. metrics: logged on the run and copied onto
        the version as ``metric.<name>`` tags. params: nested mappings flatten to ``a.b`` keys;
        re-logging an existing key of ``run_id`` with another value is an MLflow error.
    The version is created only after every file is verified in the run's artifacts, so no
    version ever points at missing files.
    """
    check_name(model_name)
    bundle_dir = Path(bundle_dir)
    names = check_bundle_dir(bundle_dir)
    lineage = _check_tags(tags or {})
    values = _check_metrics(metrics or {})
    flat = _flatten(params or {})
    with session() as c:
        own_run = run_id is None
        if own_run:
            exp_id = ensure_experiment(experiment, mlflow_client=c)
            run_id = c.create_run(exp_id, run_name=f"bundle {bundle_dir.name}").info.run_id
        try:
            _log_run_data(c, run_id, lineage, values, flat)
            c.log_artifacts(run_id, str(bundle_dir), ARTIFACT_PATH)
            logged = sorted(Path(f.path).name for f in c.list_artifacts(run_id, ARTIFACT_PATH))
            if logged != names:
                raise RuntimeError(f"run {run_id} holds {logged} under {ARTIFACT_PATH}/, expected {names}")
            _ensure_registered_model(c, model_name)
            version_tags = {**lineage, **{METRIC_TAG_PREFIX + k: repr(v) for k, v in values.items()}}
            mv = c.create_model_version(
                model_name, f"runs:/{run_id}/{ARTIFACT_PATH}", run_id=run_id, tags=version_tags
            )
        except BaseException:
            if own_run:
                quietly(lambda: c.set_terminated(run_id, "FAILED"))
            raise
        if own_run:
            # The version is complete; a failure to close the run must not read as "not registered"
            # (a retry would register a duplicate).
            quietly(lambda: c.set_terminated(run_id, "FINISHED"))
        return _info(mv, aliases=())


def list_versions(model_name: str = DEFAULT_MODEL_NAME) -> list[ModelVersionInfo]:
    """Every version of ``model_name``, newest first; [] if the model is not registered."""
    check_name(model_name)
    with session() as c:
        aliases = _aliases(c, model_name)
        if aliases is None:
            return []
        found = _search_versions(c, model_name)
    by_version: dict[int, list[str]] = {}
    for alias, v in aliases.items():
        by_version.setdefault(int(v), []).append(alias)
    infos = [_info(mv, aliases=tuple(sorted(by_version.get(int(mv.version), [])))) for mv in found]
    return sorted(infos, key=lambda i: i.version, reverse=True)


def get_version(model_name: str, version: int) -> ModelVersionInfo:
    """One version; ValueError if ``model_name`` has no such version."""
    check_name(model_name)
    with session() as c:
        mv = require_version(c, model_name, version)
        aliases = _aliases(c, model_name) or {}
    return _info(mv, aliases=tuple(sorted(a for a, v in aliases.items() if int(v) == int(version))))


def download_bundle(
    model_name: str = DEFAULT_MODEL_NAME,
    *,
    alias: str | None = None,
    version: int | None = None,
    dst: str | Path | None = None,
) -> Path:
    """Download one version's bundle files; give exactly one of ``alias`` or ``version``.

    dst: a folder that must not exist or be empty; None means ``$PERCEPT_HOME/bundles/<model>/v<N>``
    (replaced). Files land in a temporary sibling first, so ``dst`` is either complete or absent.
    Returns the folder holding ``model.onnx``.
    """
    if (alias is None) == (version is None):
        raise ValueError(f"give exactly one of alias or version, got alias={alias!r} version={version!r}")
    check_name(model_name)
    with session() as c:
        if alias is not None:
            try:
                mv = c.get_model_version_by_alias(model_name, alias)
            except Exception as exc:
                if error_code(exc) in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"):
                    raise ValueError(f"model {model_name!r} has no alias {alias!r}") from None
                raise
        else:
            mv = require_version(c, model_name, version)
        prefix = f"runs:/{mv.run_id}/"
        if not mv.run_id or not mv.source.startswith(prefix):
            raise ValueError(
                f"{model_name} v{mv.version} (source {mv.source}) was not registered as a bundle"
            )
        target = Path(dst) if dst is not None else percept_home() / "bundles" / model_name / f"v{mv.version}"
        if dst is not None and target.exists() and any(target.iterdir()):
            raise ValueError(f"download folder {target} exists and is not empty")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
        try:
            got = Path(c.download_artifacts(mv.run_id, mv.source.removeprefix(prefix), str(staging)))
            check_bundle_dir(got)
            _swap_in(got, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def require_version(c: MlflowClient, model_name: str, version: int) -> Any:
    """The MLflow ModelVersion, or ValueError naming the model and version."""
    try:
        return c.get_model_version(model_name, str(int(version)))
    except Exception as exc:
        if error_code(exc) in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise ValueError(f"model {model_name!r} has no version {version!r}") from None
        raise


def _aliases(c: MlflowClient, model_name: str) -> dict[str, str] | None:
    try:
        return dict(c.get_registered_model(model_name).aliases)
    except Exception as exc:
        if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


def _search_versions(c: MlflowClient, model_name: str) -> list[Any]:
    out, token = [], None
    while True:
        query = f"name = '{check_name(model_name)}'"
        page = c.search_model_versions(query, max_results=1000, page_token=token)
        out.extend(page)
        token = page.token
        if not token:
            return out


def _ensure_registered_model(c: MlflowClient, model_name: str) -> None:
    if _aliases(c, model_name) is not None:
        return
    try:
        c.create_registered_model(
            model_name,
            description="percept detector bundles (ONNX + preprocess + tracker + evaluation report). "
            "Aliases: challenger = under evaluation, champion = served.",
        )
    except Exception as exc:
        if error_code(exc) != "RESOURCE_ALREADY_EXISTS":
            raise


def _log_run_data(c: MlflowClient, run_id: str, tags: dict, metrics: dict, params: dict) -> None:
    now = int(time.time() * 1000)
    # A caller's run may hold per-epoch curves of the same keys: log the final values at their
    # last step so the run shows them as its metrics (MLflow keeps the highest step as "latest").
    existing = set(c.get_run(run_id).data.metrics) & set(metrics)
    step = max((m.step for k in existing for m in c.get_metric_history(run_id, k)), default=0)
    ms = [Metric(k, v, now, step) for k, v in metrics.items()]
    ps = [Param(k, v) for k, v in params.items()]
    ts = [RunTag(k, v) for k, v in tags.items()]
    for i in range(0, len(ms), 1000):
        c.log_batch(run_id, metrics=ms[i : i + 1000])
    for i in range(0, max(len(ps), len(ts)), _BATCH):
        c.log_batch(run_id, params=ps[i : i + _BATCH], tags=ts[i : i + _BATCH])


def _check_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key or key.startswith(_RESERVED_TAG_PREFIXES):
            raise ValueError(
                f"lineage tag {key!r} is empty or uses a reserved prefix {_RESERVED_TAG_PREFIXES}"
            )
        out[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def _check_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"metric {key}={value!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"metric {key}={value!r} is not finite")
        out[str(key)] = number
    return out


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, prefix=f"{name}."))
        else:
            out[name] = str(value)[:6000]  # MLflow's param value limit
    return out


def _info(mv: Any, *, aliases: tuple[str, ...]) -> ModelVersionInfo:
    tags = dict(mv.tags or {})
    metrics = {}
    for k, v in tags.items():
        if k.startswith(METRIC_TAG_PREFIX):
            try:
                metrics[k.removeprefix(METRIC_TAG_PREFIX)] = float(v)
            except ValueError:
                pass  # a hand-set tag that is not a number is not a metric
    lineage = {k: v for k, v in tags.items() if not k.startswith(_RESERVED_TAG_PREFIXES)}
    return ModelVersionInfo(
        model_name=mv.name,
        version=int(mv.version),
        aliases=aliases,
        metrics=metrics,
        lineage=lineage,
        run_id=mv.run_id or None,
        created=datetime.fromtimestamp(mv.creation_timestamp / 1000, tz=timezone.utc),
        source=mv.source,
    )


def _swap_in(src: Path, target: Path) -> None:
    # Rename is atomic; the old copy moves aside before the new one takes its name.
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{time.time_ns()}")
        target.rename(old)
    src.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

