"""``POST /api/v1/passwordless/email/send | resend | verify`` (the seeds' headless API)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from keyless.core.flows.passwordless import PasswordlessFlows
from keyless.web.auth import ApiAuthenticator
from keyless.web.body import read_json_object
from keyless.web.errors import NO_STORE
from keyless.web.schemas import (
    ResendRequestBody,
    SendRequestBody,
    SendResponseBody,
    VerifyRequestBody,
    VerifyResponseBody,
    send_response,
    verify_response,
)

_M = TypeVar("_M", bound=BaseModel)
PREFIX = "/api/v1/passwordless/email"


def _openapi(model: type[BaseModel], response: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema(by_alias=False)}},
        },
        "responses": {"200": {"content": {"application/json": {"schema": response.model_json_schema()}}}},
    }


async def _parse(request: Request, model: type[_M]) -> _M:
    data = await read_json_object(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json", headers=NO_STORE)


Handler = Callable[[Request], Awaitable[Response]]


def passwordless_handlers(flows: PasswordlessFlows, auth: ApiAuthenticator) -> dict[str, Handler]:
    """The three endpoints by path: served by the fast routes and declared to FastAPI for the docs."""

    async def send(request: Request) -> Response:
        caller = await auth.caller(request)
        body = await _parse(request, SendRequestBody)
        return _json(send_response(await flows.send(caller, body.command())))

    async def resend(request: Request) -> Response:
        caller = await auth.caller(request)
        body = await _parse(request, ResendRequestBody)
        return _json(send_response(await flows.resend(caller, body.auth_request_id)))

    async def verify(request: Request) -> Response:
        caller = await auth.caller(request)
        body = await _parse(request, VerifyRequestBody)
        return _json(verify_response(await flows.verify(caller, body.command())))

    return {f"{PREFIX}/send": send, f"{PREFIX}/resend": resend, f"{PREFIX}/verify": verify}


def build_router(handlers: dict[str, Handler]) -> APIRouter:
    router = APIRouter(tags=["Magic link & OTP"])
    docs: dict[str, tuple[type[BaseModel], type[BaseModel], str]] = {
        "send": (SendRequestBody, SendResponseBody, "Send a code and/or link"),
        "resend": (ResendRequestBody, SendResponseBody, "Resend the email"),
        "verify": (VerifyRequestBody, VerifyResponseBody, "Verify a code or link token"),
    }
    for name, (body, response, summary) in docs.items():
        path = f"{PREFIX}/{name}"
        router.add_api_route(
            path, handlers[path], methods=["POST"], summary=summary, openapi_extra=_openapi(body, response)
        )
    return router
