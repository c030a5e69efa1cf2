"""The ``retrain`` flow: K candidate detectors trained in parallel on Ray, evaluated, registered, gated.

    resolve dataset version (dvc pull if needed)
      -> one Prefect task per candidate (``train-candidate``, submitted concurrently), whose body
         is ``ray.get(train_remote.remote(...))``: Ray places the work (1 GPU each where the
         cluster has GPUs, else 1 CPU) and restarts lost workers; Prefect retries transient
         failures and caches finished candidates
      -> register every finished candidate as a version of the model (bundle + lineage tags)
      -> ``challenger`` = the best by (HOTA, mAP@0.5); the gate decides about ``champion``.

A candidate that fails is recorded (its MLflow run FAILED with the error as tag ``error``) and
does not stop the others; the flow fails only when every candidate fails, or when promotion
cannot reach MLflow (``champion`` is then left as it was).

Caching: a candidate's cache key is the dataset md5 plus the hash of its resolved parameters
(detector config, tracker config, evaluation split). Results are JSON under
``$PERCEPT_HOME/prefect-results``; the candidate's working folder (checkpoints, bundle) is
``$PERCEPT_HOME/candidates/<key>``. A cache hit whose bundle has gone missing trains again.
Re-running on the same data and params therefore trains nothing and registers nothing new.
Two flow runs training the same key at the same time would share one working folder: don't.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from perception.config import as_dict, load_params, override, percept_home

ACTOR = "percept-retrain"
RESULTS_DIR = "prefect-results"
CANDIDATES_DIR = "candidates"


@dataclass(frozen=True)
class SweepConfig:
    """Which candidates ``retrain`` trains and how hard it tries (``params.yaml`` key ``sweep:``).

    candidates: one mapping per candidate of ``DetectorConfig`` keys applied over ``detector:`` and
        ``train:``, plus an optional ``name``. More candidates explore more but each costs a full
        training (one GPU or one CPU core); ``--candidates N`` takes the first N.
    worker_retries: Ray restarts of a candidate whose worker process died (killed, OOM, node
        lost); the restart resumes from the last epoch checkpoint. 0 turns a lost node into a
        failed candidate.
    task_retries: Prefect retries of a candidate after an error that may be transient (not a
        ``ValueError``/``TypeError``, which a retry cannot fix). Each retry retrains from the last
        checkpoint; more retries hide flaky infrastructure but delay the verdict.
    retry_delay_s: seconds between Prefect retries.
    split: the held-out split every candidate is evaluated on.
    """

    candidates: tuple[Mapping[str, Any], ...] = (
        {"name": "fcos-lr2e-3"},
        {"name": "fcos-lr4e-3", "lr": 0.004},
        {"name": "fcos-640x384", "input_size": 640, "input_height": 384},
    )
    worker_retries: int = 2
    task_retries: int = 1
    retry_delay_s: float = 5.0
    split: str = "test"

    def __post_init__(self) -> None:
        if not self.candidates:
            raise ValueError("sweep.candidates must list at least one candidate")
        names = []
        for i, entry in enumerate(self.candidates):
            if not isinstance(entry, Mapping):
                raise ValueError(f"sweep.candidates[{i}] must be a mapping of detector keys, got {entry!r}")
            names.append(candidate_name(i, entry))
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"sweep.candidates names must be unique, got duplicates {dupes}")
        for name in ("worker_retries", "task_retries"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"sweep.{name} must be an integer >= 0, got {getattr(self, name)!r}")
        if self.retry_delay_s < 0:
            raise ValueError(f"sweep.retry_delay_s must be >= 0, got {self.retry_delay_s}")
        object.__setattr__(self, "candidates", tuple(dict(c) for c in self.candidates))


@dataclass(frozen=True)
class Candidate:
    """One planned training: its name and the ``DetectorConfig`` overrides (not yet validated)."""

    name: str
    overrides: Mapping[str, Any] = field(default_factory=dict)


def candidate_name(index: int, entry: Mapping[str, Any]) -> str:
    if entry.get("name"):
        return str(entry["name"])
    parts = [f"{k}={v}" for k, v in sorted(entry.items())]
    return f"c{index}" + (":" + ",".join(parts) if parts else "")


def plan_candidates(
    sweep: SweepConfig, base: Mapping[str, Any], *, limit: int | None = None
) -> list[Candidate]:
    """The first ``limit`` sweep entries (all when None), each merged over ``base`` overrides."""
    if limit is not None and not 1 <= limit <= len(sweep.candidates):
        size = len(sweep.candidates)
        raise ValueError(f"--candidates must be between 1 and {size} (the sweep size), got {limit}")
    entries = sweep.candidates[: limit or len(sweep.candidates)]
    return [
        Candidate(
            name=candidate_name(i, e), overrides={**base, **{k: v for k, v in e.items() if k != "name"}}
        )
        for i, e in enumerate(entries)
    ]


def resolved_params(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The full detector config the overrides give, or the raw overrides when they are invalid
    (the worker then fails on them, which is where the failure should be recorded)."""
    from perception.models import DetectorConfig

    try:
        return as_dict(override(DetectorConfig(), dict(overrides)))
    except (ValueError, TypeError):
        return {"invalid_overrides": dict(overrides)}


def params_hash(value: Any) -> str:
    """First 16 hex digits of sha256 over canonical JSON (sorted keys)."""
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def candidate_key(
    *, data_md5: str, overrides: Mapping[str, Any], tracker: Mapping[str, Any], split: str
) -> str:
    """Cache key and working-folder name: dataset md5 + hash of everything the result depends on."""
    digest = params_hash({"detector": resolved_params(overrides), "tracker": dict(tracker), "split": split})
    return f"{data_md5.removesuffix('.dir')[:12]}-{digest}"


def candidate_dir(key: str) -> Path:
    return percept_home() / CANDIDATES_DIR / key


def _cache_key(_context: Any, parameters: dict[str, Any]) -> str:
    return candidate_key(
        data_md5=parameters["dataset"]["md5"],
        overrides=parameters["overrides"],
        tracker=parameters["tracker"],
        split=parameters["split"],
    )


def _retryable(_task: Any, _task_run: Any, state: Any) -> bool:
    exc = state.result(raise_on_failure=False)
    return not isinstance(exc, (ValueError, TypeError))


def bundle_is_valid(key: str) -> bool:
    """Whether a cached candidate's bundle is still on disk and loads."""
    from perception.bundle import load_bundle

    try:
        load_bundle(candidate_dir(key) / "bundle")
    except ValueError:
        return False
    return True


@task(name="resolve-dataset", cache_policy=NO_CACHE)
def resolve_dataset(name: str) -> dict[str, str]:
    """The dataset version ``name`` ("latest" = newest ingested), made local (dvc pull)."""
    from flows.versioning import ensure_local, resolve_version

    version = resolve_version(name)
    path = ensure_local(version)
    return {"name": version.name, "md5": version.md5, "git_rev": version.git_rev, "path": str(path)}


@task(
    name="train-candidate",
    cache_key_fn=_cache_key,
    persist_result=True,
    result_serializer="json",
    retry_condition_fn=_retryable,
)
def train_candidate(
    name: str,
    overrides: dict[str, Any],
    tracker: dict[str, Any],
    dataset: dict[str, str],
    split: str,
    experiment_id: str,
    lineage: dict[str, str],
    worker_retries: int,
) -> dict[str, Any]:
    """Train, evaluate and bundle one candidate in a Ray worker; its MLflow run records the outcome."""
    import ray

    from flows.candidates import train_remote
    from flows.runtime import ensure_ray, ray_has_gpus
    from registry.store import quietly, session

    key = _cache_key(None, {"dataset": dataset, "overrides": overrides, "tracker": tracker, "split": split})
    run_tags = {**lineage, "candidate": name, "candidate_key": key, "dataset": dataset["name"]}
    with session() as c:
        run_id = c.create_run(experiment_id, run_name=name, tags=run_tags).info.run_id
    try:
        ensure_ray()
        resources = {"num_gpus": 1} if ray_has_gpus() else {"num_cpus": 1}
        ref = train_remote.options(max_retries=worker_retries, name=f"train:{name}", **resources).remote(
            data_root=dataset["path"],
            work_dir=str(candidate_dir(key)),
            overrides=overrides,
            tracker=tracker,
            run_id=run_id,
            split=split,
        )
        result = ray.get(ref)
    except BaseException as exc:
        message = f"{type(exc).__name__}: {_first_line(exc)}"

        def mark_failed() -> None:
            with session() as c:
                c.set_tag(run_id, "error", message[:4000])
                c.set_terminated(run_id, "FAILED")

        quietly(mark_failed)
        raise
    return {**result, "name": name, "key": key, "run_id": run_id}


def _first_line(exc: BaseException) -> str:
    # RayTaskError's str() carries the remote traceback; the cause's message is the useful part.
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip() or type(cause).__name__
    return text.splitlines()[0] if "Traceback" not in text.splitlines()[0] else text.splitlines()[-1]


@task(name="register-candidate", cache_policy=NO_CACHE)
def register_candidate(result: dict[str, Any], model_name: str, lineage: dict[str, str]) -> int:
    """Register the candidate's bundle once; a cached candidate returns its existing version."""
    from registry.bundles import list_versions, register_bundle
    from registry.store import session

    for info in list_versions(model_name):
        if info.run_id == result["run_id"]:
            return info.version
    tags = {**lineage, "params_hash": result["key"].split("-", 1)[1], "candidate": result["name"]}
    info = register_bundle(
        result["bundle_dir"],
        model_name=model_name,
        run_id=result["run_id"],
        tags=tags,
        metrics=result["metrics"],
        params={"device": result["device"]},
    )
    with session() as c:
        c.set_terminated(result["run_id"], "FINISHED")
    return info.version


@flow(name="promote", validate_parameters=False)
def promote_challenger(model_name: str, version: int, gate: dict[str, Any] | None = None) -> dict[str, Any]:
    """Gate ``version`` against the champion (moving ``challenger``, maybe ``champion``); ledgered.

    MLflow unreachable: raises ``RuntimeError`` saying ``champion`` was left unchanged (the
    registry moves an alias only after its ledger entry is open, so a lost server moves nothing).
    """
    from registry.gate import GateConfig
    from registry.ledger import CHAMPION, get_alias
    from registry.promote import run_gate
    from registry.store import RegistryUnavailable, tracking_uri

    config = override(GateConfig(), gate or {})
    before: int | None | str = "unknown"
    try:
        before = get_alias(model_name, CHAMPION)
        if before == version:
            return {"promote": False, "champion": before,
                    "reasons": [f"v{version} is already the champion; nothing to gate."]}
        decision = run_gate(model_name, version, config, actor=ACTOR)
        after = get_alias(model_name, CHAMPION)
    except RegistryUnavailable as exc:
        was = "none" if before is None else (f"v{before}" if isinstance(before, int) else before)
        raise RuntimeError(
            f"MLflow at {tracking_uri()} was unreachable while promoting {model_name} v{version}, so "
            f"champion was left unchanged (it was {was}); rerun retrain or `percept promote` once "
            f"MLflow is back. ({exc})"
        ) from exc
    return {"promote": decision.promote, "champion": after, "reasons": list(decision.reasons)}


def _section(params: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = params.get(key) or {}
    if not isinstance(value, Mapping):
        raise ValueError(f"params.yaml key {key!r} must be a mapping, got {value!r}")
    return dict(value)


def resolve_settings(
    params: Mapping[str, Any], *, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """Per-section settings from params.yaml with ``overrides`` (CLI) winning, validated."""
    from registry.gate import GateConfig
    from registry.store import RegistryConfig

    merged = {k: _section(params, k) for k in ("detector", "train", "sweep", "gate", "registry", "tracker")}
    for key, values in (overrides or {}).items():
        if key not in merged:
            raise ValueError(f"unknown override section {key!r}; known: {sorted(merged)}")
        merged[key] = {**merged[key], **dict(values)}
    tracker = dict(merged["tracker"])
    tracker.setdefault("name", _default_tracker())
    return {
        "base": {**merged["detector"], **merged["train"]},
        "sweep": override(SweepConfig(), merged["sweep"]),
        "gate": as_dict(override(GateConfig(), merged["gate"])),
        "registry": override(RegistryConfig(), merged["registry"]),
        "tracker": tracker,
    }


def _default_tracker() -> str:
    from perception.tracking import DEFAULT_TRACKER

    return DEFAULT_TRACKER


@flow(name="retrain", validate_parameters=False)
def retrain(
    dataset: str = "latest",
    candidates: int | None = None,
    epochs: int | None = None,
    params_path: str = "params.yaml",
    overrides: dict[str, dict[str, Any]] | None = None,
    promote: bool = True,
) -> dict[str, Any]:
    """Train the sweep's candidates on ``dataset``, register them, gate the best. Returns a summary.

    candidates: train the first N of params.yaml ``sweep.candidates``. epochs: overrides every
    candidate's epochs. overrides: ``{section: {key: value}}`` over params.yaml sections
    (detector, train, sweep, gate, registry, tracker). promote=False stops after registration.
    """
    from flows.runtime import ensure_ray, git_lineage
    from registry.store import ensure_experiment

    logger = get_run_logger()
    settings = resolve_settings(load_params(params_path), overrides=overrides)
    base = {**settings["base"], **({"epochs": epochs} if epochs is not None else {})}
    sweep: SweepConfig = settings["sweep"]
    plan = plan_candidates(sweep, base, limit=candidates)
    model_name = settings["registry"].model_name
    version = resolve_dataset(dataset)
    lineage = {
        "data_md5": version["md5"],
        "dataset_git_rev": version["git_rev"],
        **git_lineage(),
        "prefect_flow_run_id": str(flow_run.get_id() or "unknown"),
    }
    experiment_id = ensure_experiment(settings["registry"].experiment)
    ensure_ray()  # here, in the flow's thread: Ray installs its signal handlers only from the main thread
    storage = percept_home() / RESULTS_DIR
    futures = []
    for cand in plan:
        key = candidate_key(data_md5=version["md5"], overrides=cand.overrides, tracker=settings["tracker"],
                            split=sweep.split)
        runner = train_candidate.with_options(
            task_run_name=f"train-{cand.name}",
            result_storage=storage,
            retries=sweep.task_retries,
            retry_delay_seconds=sweep.retry_delay_s,
            refresh_cache=not bundle_is_valid(key),
        )
        futures.append(runner.submit(cand.name, dict(cand.overrides), settings["tracker"], version,
                                     sweep.split, experiment_id, lineage, sweep.worker_retries))
    rows = []
    for cand, fut in zip(plan, futures):
        fut.wait()
        state = fut.state
        row: dict[str, Any] = {"name": cand.name, "status": "failed", "version": None, "metrics": {}}
        if state.is_completed():
            res = fut.result()
            row.update(status="cached" if state.name == "Cached" else "trained", run_id=res["run_id"],
                       metrics=res["metrics"], device=res["device"], attempts=res["attempts"],
                       resumed_from=res.get("resumed_from", 0), key=res["key"])
            row["version"] = register_candidate(res, model_name, lineage)
        else:
            row["error"] = _first_line(state.result(raise_on_failure=False))
            logger.warning("candidate %s failed: %s", cand.name, row["error"])
        rows.append(row)
    summary: dict[str, Any] = {"dataset": version, "model_name": model_name, "candidates": rows,
                               "challenger": None, "decision": None}
    done = [r for r in rows if r["version"] is not None]
    if not done:
        errors = "; ".join(f"{r['name']}: {r.get('error')}" for r in rows)
        raise RuntimeError(f"all {len(rows)} candidates failed, nothing to register: {errors}")
    best = max(done, key=lambda r: (r["metrics"]["hota"], r["metrics"]["map50"]))
    summary["challenger"] = best["version"]
    if promote:
        summary["decision"] = promote_challenger(model_name, best["version"], settings["gate"])
    return summary


def format_rows(rows: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Table cells for the CLI: name, status, version, HOTA, mAP50, mAP, latency ms, note."""

    def num(row: Mapping[str, Any], key: str, fmt: str) -> str:
        value = row.get("metrics", {}).get(key)
        return fmt.format(value) if isinstance(value, (int, float)) else "-"

    return [
        [
            str(r["name"]),
            str(r["status"]),
            f"v{r['version']}" if r.get("version") is not None else "-",
            num(r, "hota", "{:.1f}"),
            num(r, "map50", "{:.3f}"),
            num(r, "map", "{:.3f}"),
            num(r, "latency_ms_b1", "{:.1f}"),
            str(r.get("error") or r.get("device") or ""),
        ]
        for r in rows
    ]
