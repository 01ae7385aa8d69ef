"""Exceptions: one class per keyless error code, each carrying the server's message and ``retry_after``.

Branch on the class (or on ``error_code``), never on ``message``: messages are for people.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class KeylessSDKError(Exception):
    """Base of everything this SDK raises."""


class KeylessConnectionError(KeylessSDKError):
    """The server could not be reached, or the connection failed mid-call."""


class KeylessTimeoutError(KeylessConnectionError):
    """The call did not finish within the client's timeout."""


class TokenValidationError(KeylessSDKError):
    """A JWT failed local validation: signature, expiry, issuer, audience, type or scopes."""


class MissingScopeError(TokenValidationError):
    """A valid access token that lacks a required scope (an HTTP API answers 403, not 401)."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"the token lacks the required scope(s): {', '.join(missing)}")
        self.missing = missing


@dataclass(frozen=True, slots=True)
class FieldViolation:
    field: str
    description: str
    constraint: str


class KeylessError(KeylessSDKError):
    """An error answer of the passwordless API (the grpc-gateway JSON shape).

    ``error_code`` is the stable machine-readable code, ``message`` the server's safe message,
    ``retry_after`` the seconds from ``Retry-After`` (429 and 503 answers), ``grpc_code`` the body's
    ``code`` and ``field_violations`` the validation details, when there are any.
    """

    error_code: str = "UNKNOWN"

    def __init__(
        self,
        message: str,
        *,
        http_status: int,
        error_code: str | None = None,
        grpc_code: int | None = None,
        retry_after: int | None = None,
        field_violations: tuple[FieldViolation, ...] = (),
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        if error_code is not None:
            self.error_code = error_code
        self.grpc_code = grpc_code
        self.retry_after = retry_after
        self.field_violations = field_violations
        self.body = body

    def __str__(self) -> str:
        return f"{self.error_code}: {self.message}"


class InvalidArgumentError(KeylessError):
    error_code = "INVALID_ARGUMENT"


class MalformedRequestBodyError(KeylessError):
    error_code = "MALFORMED_REQUEST_BODY"


class UnsupportedMediaTypeError(KeylessError):
    error_code = "UNSUPPORTED_MEDIA_TYPE"


class PayloadTooLargeError(KeylessError):
    error_code = "PAYLOAD_TOO_LARGE"


class InvalidEmailError(KeylessError):
    error_code = "INVALID_EMAIL"


class MagiclinkAuthUriNotAllowedError(KeylessError):
    error_code = "MAGICLINK_AUTH_URI_NOT_ALLOWED"


class InvalidCodeError(KeylessError):
    error_code = "INVALID_CODE"


class ExpiredError(KeylessError):
    error_code = "EXPIRED"


class AlreadyUsedError(KeylessError):
    error_code = "ALREADY_USED"


class AuthRequestNotFoundError(KeylessError):
    error_code = "AUTH_REQUEST_NOT_FOUND"


class TooManyAttemptsError(KeylessError):
    error_code = "TOO_MANY_ATTEMPTS"


class RateLimitedError(KeylessError):
    error_code = "RATE_LIMITED"


class LoginNotFoundError(KeylessError):
    error_code = "LOGIN_NOT_FOUND"


class BrowserMismatchError(KeylessError):
    error_code = "BROWSER_MISMATCH"


class CsrfFailedError(KeylessError):
    error_code = "CSRF_FAILED"


class UnauthenticatedError(KeylessError):
    error_code = "UNAUTHENTICATED"


class InsufficientScopeError(KeylessError):
    error_code = "INSUFFICIENT_SCOPE"


class NotFoundError(KeylessError):
    error_code = "NOT_FOUND"


class MethodNotAllowedError(KeylessError):
    error_code = "METHOD_NOT_ALLOWED"


class ServiceUnavailableError(KeylessError):
    error_code = "SERVICE_UNAVAILABLE"


class InternalError(KeylessError):
    error_code = "INTERNAL"


API_ERRORS: dict[str, type[KeylessError]] = {
    cls.error_code: cls
    for cls in (
        InvalidArgumentError,
        MalformedRequestBodyError,
        UnsupportedMediaTypeError,
        PayloadTooLargeError,
        InvalidEmailError,
        MagiclinkAuthUriNotAllowedError,
        InvalidCodeError,
        ExpiredError,
        AlreadyUsedError,
        AuthRequestNotFoundError,
        TooManyAttemptsError,
        RateLimitedError,
        LoginNotFoundError,
        BrowserMismatchError,
        CsrfFailedError,
        UnauthenticatedError,
        InsufficientScopeError,
        NotFoundError,
        MethodNotAllowedError,
        ServiceUnavailableError,
        InternalError,
    )
}


class OAuthError(KeylessSDKError):
    """An RFC 6749 error answer of ``/oauth/token``: ``error`` and ``error_description``."""

    error: str = "oauth_error"

    def __init__(self, description: str, *, http_status: int, error: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.message = description
        self.http_status = http_status
        if error is not None:
            self.error = error
        self.error_code = self.error
        self.retry_after: int | None = None

    def __str__(self) -> str:
        return f"{self.error}: {self.description}"


class InvalidRequestError(OAuthError):
    error = "invalid_request"


class InvalidClientError(OAuthError):
    error = "invalid_client"


class InvalidGrantError(OAuthError):
    error = "invalid_grant"


class UnauthorizedClientError(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantTypeError(OAuthError):
    error = "unsupported_grant_type"


class InvalidScopeError(OAuthError):
    error = "invalid_scope"


OAUTH_ERRORS: dict[str, type[OAuthError]] = {
    cls.error: cls
    for cls in (
        InvalidRequestError,
        InvalidClientError,
        InvalidGrantError,
        UnauthorizedClientError,
        UnsupportedGrantTypeError,
        InvalidScopeError,
    )
}


def parse_retry_after(value: str | None) -> int | None:
    """keyless sends whole seconds; an HTTP date (allowed by RFC 9110) is not used and reads as None."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


def api_error(status: int, body: Any, retry_after: str | None) -> KeylessSDKError:
    """The exception for an error answer: the grpc-gateway shape, the RFC 6749 shape (a 429 of the
    token endpoint uses the API shape), or, for anything else (a proxy's HTML page), the status alone."""
    wait = parse_retry_after(retry_after)
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        description = str(body.get("error_description") or body["error"])
        oauth_cls = OAUTH_ERRORS.get(body["error"], OAuthError)
        return oauth_cls(description, http_status=status, error=body["error"])
    code: str | None = None
    message = f"HTTP {status}"
    grpc_code: int | None = None
    violations: list[FieldViolation] = []
    if isinstance(body, dict):
        message = str(body.get("message") or message)
        grpc_code = body.get("code") if isinstance(body.get("code"), int) else None
        for detail in body.get("details") or []:
            if not isinstance(detail, dict):
                continue
            code = code or (detail.get("error_code") if isinstance(detail.get("error_code"), str) else None)
            info = detail.get("validation_error_info")
            items = info.get("field_violations") if isinstance(info, dict) else None
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict):
                    violations.append(
                        FieldViolation(
                            str(item.get("field", "")),
                            str(item.get("description", "")),
                            str(item.get("constraint", "")),
                        )
                    )
    cls = API_ERRORS.get(code or "", KeylessError)
    return cls(
        message,
        http_status=status,
        error_code=code or ("UNKNOWN" if cls is KeylessError else None),
        grpc_code=grpc_code,
        retry_after=wait,
        field_violations=tuple(violations),
        body=body,
    )
