"""``create_app(settings)``: the FastAPI app. Routes live in ``routes_*.py``; state lives on the app.

Nothing is global: two apps in one process have their own model, streams, queue and metrics.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from fastapi import FastAPI

from services.perception import routes_admin, routes_streams
from services.perception.errors import install_error_handlers
from services.perception.metrics import ServiceMetrics
from services.perception.model import LoadedModel, ModelManager, ModelSource, RegistrySource, load_model
from services.perception.pipeline import Pipeline, default_tracker_factory
from services.perception.pulled import SourceManager, default_opener
from services.perception.settings import ServiceSettings

log = logging.getLogger("percept.service")
API_VERSION = "1.0.0"


@dataclass
class ServiceState:
    settings: ServiceSettings
    models: ModelManager
    pipeline: Pipeline
    sources: SourceManager
    metrics: ServiceMetrics


def create_app(
    settings: ServiceSettings | None = None,
    *,
    source: ModelSource | None = None,
    tracker_factory: Callable[[dict[str, Any]], Any] = default_tracker_factory,
    opener: Callable[[str, str], Any] = default_opener,
    loader: Callable[..., LoadedModel] = load_model,
) -> FastAPI:
    """The service app. ``source`` defaults to the registry (``models:/<model_name>@<alias>``);
    ``tracker_factory``, ``opener`` and ``loader`` are seams for tests and embedding."""
    settings = settings or ServiceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = _build_state(settings, source, tracker_factory, opener, loader)
        app.state.service = state
        state.pipeline.start()
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(state.models.refresh(), name="percept-initial-load")]
        tasks.append(loop.create_task(state.pipeline.expire_forever(
            lambda: [sid for sid, src in state.sources.sources.items() if src.state == "running"]
        )))
        if settings.poll_interval_s > 0:
            tasks.append(loop.create_task(state.models.poll_forever(settings.poll_interval_s)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await state.sources.close()
            await state.pipeline.stop()

    app = FastAPI(
        title="percept perception service",
        version=API_VERSION,
        summary="Detection + tracking of many camera streams, with range/TTC, for downstream control.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(routes_admin.router)
    app.include_router(routes_streams.router)
    return app


def _build_state(
    settings: ServiceSettings,
    source: ModelSource | None,
    tracker_factory: Callable[[dict[str, Any]], Any],
    opener: Callable[[str, str], Any],
    loader: Callable[..., LoadedModel],
) -> ServiceState:
    metrics = ServiceMetrics()
    pipeline_ref: list[Pipeline] = []

    def warm_image() -> np.ndarray:
        last = pipeline_ref[0].last_image if pipeline_ref else None
        return last if last is not None else np.zeros((*settings.warm_size, 3), np.uint8)

    def on_swap(model: LoadedModel) -> None:
        metrics.model_version.set(model.version)
        metrics.swaps.inc()

    models = ModelManager(
        source=source or RegistrySource(settings.model_name, settings.alias),
        alias=settings.alias,
        warm_image=warm_image,
        loader=loader,
        on_swap=on_swap,
    )
    pipeline = Pipeline(settings=settings, models=models, metrics=metrics, tracker_factory=tracker_factory)
    pipeline_ref.append(pipeline)
    sources = SourceManager(pipeline=pipeline, allowed_roots=settings.allowed_roots, opener=opener)
    return ServiceState(settings, models, pipeline, sources, metrics)
