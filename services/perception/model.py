"""The served model: resolve the alias, load the bundle with onnxruntime, warm it, swap it in.

The swap is one attribute assignment (``self.current = new``): a batch reads ``current`` once and
uses that model to the end, so no request ever sees half a model. A bundle that fails to load
leaves the old model serving; ``last_error`` says why.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

log = logging.getLogger("percept.service")


class ModelSource(Protocol):
    """Where versions come from: the registry in production, anything with these two methods in tests."""

    def current_version(self) -> int | None: ...

    def fetch(self, version: int) -> tuple[Path, dict[str, Any]]:
        """The bundle folder of ``version`` and its lineage (tags)."""
        ...


@dataclass(frozen=True)
class RegistrySource:
    """``models:/<model_name>@<alias>`` through registry/ (read-only)."""

    model_name: str
    alias: str

    def current_version(self) -> int | None:
        try:
            from registry.ledger import get_alias
        except ImportError:  # older registry: read the alias off the version list
            from registry.bundles import list_versions

            found = [v.version for v in list_versions(self.model_name) if self.alias in v.aliases]
            return found[0] if found else None
        return get_alias(self.model_name, self.alias)

    def fetch(self, version: int) -> tuple[Path, dict[str, Any]]:
        from registry.bundles import download_bundle

        path = download_bundle(self.model_name, version=version)
        return Path(path), _lineage(self.model_name, version)


def _lineage(model_name: str, version: int) -> dict[str, Any]:
    try:
        from registry.bundles import get_version

        info = get_version(model_name, version)
        return {"run_id": info.run_id, **dict(info.lineage), "metrics": dict(info.metrics)}
    except Exception as exc:  # lineage is informative only; never fail a load over it
        log.warning("lineage of %s v%s unavailable: %s", model_name, version, exc)
    return {}


@dataclass(frozen=True)
class LoadedModel:
    version: int
    detector: Any
    """``OrtDetector``: ``detect(list of (H,W,3) uint8 BGR) -> list[Detections]`` in one ORT call, with an
    intra-op thread per core: for a batch that has the CPU to itself."""
    class_names: list[str]
    tracker_spec: dict[str, Any]
    """``tracker.yaml``: ``{name: ..., <config fields>}`` for new streams."""
    lineage: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    loaded_at: float = field(default_factory=time.time)
    warm_ms: float = 0.0
    side_detector: Any | None = None
    """The same graph with one intra-op thread, for a batch that runs beside another: the cores are
    busy then, and splitting each operator across them only adds hand-over work (on 2 cores, ORT
    26 CPU-ms per frame single-threaded, 33 with two threads). None: ``detector`` serves both."""


def load_model(version: int, path: Path, lineage: dict[str, Any], warm_image: np.ndarray) -> LoadedModel:
    """Load a bundle folder (onnxruntime, no pickle) and run it once on ``warm_image``."""
    from perception.bundle import load_bundle

    bundle = load_bundle(path)
    detector, side_detector = bundle.detector(), bundle.detector(threads=1)
    start = time.perf_counter()
    detector.detect([warm_image])
    warm_ms = (time.perf_counter() - start) * 1000.0
    side_detector.detect([warm_image])
    preprocess = dict(getattr(bundle, "preprocess", {}) or {})
    class_names = list(preprocess.get("class_names") or preprocess.get("classes") or [])
    return LoadedModel(
        version=version,
        detector=detector,
        class_names=class_names,
        tracker_spec=dict(getattr(bundle, "tracker", {}) or {}),
        lineage=lineage,
        report=dict(getattr(bundle, "report", {}) or {}),
        warm_ms=warm_ms,
        side_detector=side_detector,
    )


class ModelManager:
    """Follows the alias; ``current`` is the model every new batch uses."""

    def __init__(
        self,
        *,
        source: ModelSource,
        alias: str,
        warm_image: Callable[[], np.ndarray],
        loader: Callable[[int, Path, dict, np.ndarray], LoadedModel] = load_model,
        on_swap: Callable[[LoadedModel], None] | None = None,
    ) -> None:
        self.source = source
        self.alias = alias
        self.current: LoadedModel | None = None
        self.last_error: str | None = None
        self.last_check: float | None = None
        self.swaps = 0
        self._warm_image = warm_image
        self._loader = loader
        self._on_swap = on_swap
        self._lock = asyncio.Lock()

    async def refresh(self) -> bool:
        """Look up the alias; load and swap in a new version. True when the served model changed."""
        async with self._lock:
            return await asyncio.to_thread(self._refresh_blocking)

    def _refresh_blocking(self) -> bool:
        self.last_check = time.time()
        try:
            version = self.source.current_version()
        except Exception as exc:
            self._fail(f"could not resolve alias {self.alias!r}: {exc}")
            return False
        if version is None:
            if self.current is None:
                self._fail(f"no model version carries alias {self.alias!r} yet")
            return False
        if self.current is not None and self.current.version == version:
            self.last_error = None  # the alias points at what is served: nothing is wrong
            return False
        try:
            path, lineage = self.source.fetch(version)
            model = self._loader(version, path, lineage, self._warm_image())
        except Exception as exc:
            served = f"v{self.current.version} keeps serving" if self.current else "nothing is served"
            self._fail(f"loading version {version} failed ({type(exc).__name__}: {exc}); {served}")
            return False
        self.current = model  # the swap: one reference assignment
        self.swaps += 1
        self.last_error = None
        log.info("serving version %s (warm-up %.0f ms)", version, model.warm_ms)
        if self._on_swap is not None:
            self._on_swap(model)
        return True

    def _fail(self, message: str) -> None:
        if message != self.last_error:
            log.warning("%s", message)
        self.last_error = message

    async def poll_forever(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self.refresh()

    def status(self) -> dict[str, Any]:
        model = self.current
        return {
            "alias": self.alias,
            "version": model.version if model else None,
            "class_names": model.class_names if model else [],
            "tracker": model.tracker_spec if model else {},
            "lineage": model.lineage if model else {},
            "loaded_at": model.loaded_at if model else None,
            "warm_ms": round(model.warm_ms, 1) if model else None,
            "swaps": self.swaps,
            "last_check": self.last_check,
            "last_error": self.last_error,
        }
