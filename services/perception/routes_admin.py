"""Health, readiness, metrics, the served model, and the admin reload."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from services.perception.pipeline import FrameRejected

router = APIRouter()
_bearer = HTTPBearer(auto_error=False)


class ModelStatus(BaseModel):
    alias: str
    version: int | None
    class_names: list[str]
    tracker: dict[str, Any]
    lineage: dict[str, Any]
    loaded_at: float | None
    warm_ms: float | None
    swaps: int
    last_check: float | None
    last_error: str | None


class ReloadResult(ModelStatus):
    changed: bool


def service(request: Request):
    return request.app.state.service


def require_admin(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> None:
    """401 for a missing/wrong token; 403 when no token is configured (admin routes disabled)."""
    expected = service(request).settings.resolved_admin_token()
    if expected is None:
        raise FrameRejected(403, "admin routes are disabled: set PERCEPT_ADMIN_TOKEN to enable them")
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise FrameRejected(401, "admin routes need 'Authorization: Bearer <token>'")
    if not secrets.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise FrameRejected(401, "the admin token is wrong")


@router.get("/healthz", tags=["ops"])
async def healthz() -> dict[str, str]:
    """The process is up (says nothing about the model)."""
    return {"status": "ok"}


@router.get("/readyz", tags=["ops"], responses={503: {"description": "No model loaded yet"}})
async def readyz(request: Request) -> JSONResponse:
    """Ready only when a model is loaded."""
    models = service(request).models
    if models.current is None:
        reason = models.last_error or "the model is loading"
        return JSONResponse({"ready": False, "detail": reason}, status_code=503)
    return JSONResponse({"ready": True, "version": models.current.version})


@router.get("/metrics", tags=["ops"], response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    return Response(service(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/model", tags=["model"])
async def model_status(request: Request) -> ModelStatus:
    """Served version, alias, lineage, and why the last load failed (if it did)."""
    return ModelStatus(**service(request).models.status())


@router.post(
    "/v1/admin/reload",
    tags=["model"],
    dependencies=[Depends(require_admin)],
    responses={401: {"description": "Missing or wrong token"}, 403: {"description": "Admin disabled"}},
)
async def reload(request: Request) -> ReloadResult:
    """Look up the alias now; load, warm and swap in a new version if it moved."""
    models = service(request).models
    changed = await models.refresh()
    return ReloadResult(changed=changed, **models.status())
