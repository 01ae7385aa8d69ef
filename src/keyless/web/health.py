"""Liveness and readiness."""

from __future__ import annotations

import orjson
from fastapi import APIRouter
from starlette.responses import Response

from keyless.errors import ServiceUnavailable
from keyless.storage.database import Database


def build_router(db: Database) -> APIRouter:
    router = APIRouter(prefix="/health", tags=["Health"])

    @router.get("/live", summary="The process is up")
    async def live() -> Response:
        return Response(orjson.dumps({"status": "ok"}), media_type="application/json")

    @router.get("/ready", summary="The database answers")
    async def ready() -> Response:
        try:
            await db.ping()
        except ServiceUnavailable:
            raise
        except Exception as exc:
            raise ServiceUnavailable(retry_after=2) from exc
        return Response(orjson.dumps({"status": "ready"}), media_type="application/json")

    return router
