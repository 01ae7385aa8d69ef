"""The one place REST errors are rendered.

Passwordless API errors use the grpc-gateway shape Scalekit's REST API is built on:
``{"code": <gRPC status>, "message": ..., "details": [{"@type": ".../ErrorInfo", "error_code": ...}]}``.
OAuth endpoints use RFC 6749 error JSON. Nothing here ever shows a trace, SQL or a secret.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from keyless.errors import (
    FieldViolation,
    InternalError,
    InvalidRequest,
    KeylessError,
    MethodNotAllowed,
    MissingCredentials,
    NotFound,
    ServiceUnavailable,
)
from keyless.oidc.errors import OAuthError

ERROR_INFO_TYPE = "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

log = logging.getLogger("keyless.web")


def error_body(error: KeylessError) -> dict[str, Any]:
    info: dict[str, Any] = {"@type": ERROR_INFO_TYPE, "error_code": error.error_code}
    if error.violations:
        info["validation_error_info"] = {
            "field_violations": [
                {"field": v.field, "description": v.description, "constraint": v.constraint} for v in error.violations
            ]
        }
    return {"code": int(error.grpc_status), "message": error.message, "details": [info]}


def render_error(error: KeylessError) -> Response:
    headers = dict(NO_STORE)
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, int(error.retry_after)))
    if isinstance(error, MissingCredentials):
        headers["WWW-Authenticate"] = 'Bearer realm="keyless"'
    elif error.http_status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="keyless", error="invalid_token"'
    if error.http_status == 403:
        headers["WWW-Authenticate"] = 'Bearer realm="keyless", error="insufficient_scope"'
    return Response(
        orjson.dumps(error_body(error)),
        status_code=error.http_status,
        headers=headers,
        media_type="application/json",
    )


def render_oauth_error(error: OAuthError) -> Response:
    return Response(
        orjson.dumps({"error": error.error, "error_description": error.description}),
        status_code=error.status,
        headers={**NO_STORE, **error.headers},
        media_type="application/json",
    )


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def violations_from_pydantic(exc: RequestValidationError) -> tuple[FieldViolation, ...]:
    out = []
    for err in exc.errors():
        parts = [p for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        # Field names in snake_case like the proto names; map keys (template variables) stay as sent.
        loc = [_snake(str(p)) if i == 0 else str(p) for i, p in enumerate(parts)]
        out.append(
            FieldViolation(".".join(loc) or "body", str(err.get("msg", "invalid")), str(err.get("type", "invalid")))
        )
    return tuple(out)


def render_exception(exc: BaseException) -> Response:
    """Any exception an endpoint lets out, as the response the caller sees (the fast routes' renderer;
    FastAPI's handlers below render the same classes the same way)."""
    if isinstance(exc, KeylessError):
        return render_error(exc)
    if isinstance(exc, OAuthError):
        return render_oauth_error(exc)
    if isinstance(exc, RequestValidationError):
        return render_error(InvalidRequest(violations=violations_from_pydantic(exc)))
    log.exception("unhandled error", exc_info=exc)
    return render_error(InternalError())


def install_error_handlers(app: FastAPI) -> None:
    async def rendered(_: Request, exc: Exception) -> Response:
        return render_exception(exc)

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return render_error(NotFound())
        if exc.status_code == 405:
            return render_error(MethodNotAllowed())
        if exc.status_code >= 500:
            return render_error(ServiceUnavailable() if exc.status_code == 503 else InternalError())
        return render_error(InvalidRequest(message="The request is invalid."))

    for kind in (KeylessError, OAuthError, RequestValidationError, Exception):
        app.add_exception_handler(kind, rendered)
    app.add_exception_handler(StarletteHTTPException, http_error)
