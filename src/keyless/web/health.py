"""Liveness and readiness.

``/health/live`` answers while the process runs (restart it when this fails). ``/health/ready``
answers 200 only when every dependency this process needs answers: the database, and Redis when the
rate limits live there; otherwise 503 with ``Retry-After`` (take it out of the load balancer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from fastapi import APIRouter
from starlette.responses import Response

from keyless.errors import ServiceUnavailable


def build_router(probes: list[Callable[[], Awaitable[None]]]) -> APIRouter:
    router = APIRouter(prefix="/health", tags=["Health"])

    @router.get("/live", summary="The process is up")
    async def live() -> Response:
        return Response(orjson.dumps({"status": "ok"}), media_type="application/json")

    @router.get("/ready", summary="The database (and Redis, when used) answer")
    async def ready() -> Response:
        for probe in probes:
            try:
                await probe()
            except ServiceUnavailable:
                raise
            except Exception as exc:
                raise ServiceUnavailable(retry_after=2) from exc
        return Response(orjson.dumps({"status": "ready"}), media_type="application/json")

    return router
