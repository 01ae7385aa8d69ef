"""``POST /api/v1/passwordless/email/send | resend | verify`` (the seeds' headless API)."""

from __future__ import annotations

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


def build_router(flows: PasswordlessFlows, auth: ApiAuthenticator) -> APIRouter:
    router = APIRouter(prefix="/api/v1/passwordless/email", tags=["Magic link & OTP"])

    @router.post("/send", openapi_extra=_openapi(SendRequestBody, SendResponseBody), summary="Send a code and/or link")
    async def send(request: Request) -> Response:
        caller = await auth.caller(request)
        body = await _parse(request, SendRequestBody)
        return _json(send_response(await flows.send(caller, body.command())))

    @router.post("/resend", openapi_extra=_openapi(ResendRequestBody, SendResponseBody), summary="Resend the email")
    async def resend(request: Request) -> Response:
        caller = await auth.caller(request)
        body = await _parse(request, ResendRequestBody)
        return _json(send_response(await flows.resend(caller, body.auth_request_id)))

    @router.post(
        "/verify",
        openapi_extra=_openapi(VerifyRequestBody, VerifyResponseBody),
        summary="Verify a code or link token",
    )
    async def verify(request: Request) -> Response:
        caller = await auth.caller(request)
        body = await _parse(request, VerifyRequestBody)
        return _json(verify_response(await flows.verify(caller, body.command())))

    return router
