"""The one error catalogue.

Every public error is a class with a stable ``error_code``, a gRPC status, the HTTP status that
grpc-gateway maps it to, and a safe message. REST, gRPC and the hosted pages render these in one
place each; nothing else decides what a caller sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar, TypeVar


class GrpcStatus(IntEnum):
    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


# The HTTP status grpc-gateway uses for each gRPC status.
HTTP_FOR_GRPC: dict[GrpcStatus, int] = {
    GrpcStatus.OK: 200,
    GrpcStatus.CANCELLED: 499,
    GrpcStatus.UNKNOWN: 500,
    GrpcStatus.INVALID_ARGUMENT: 400,
    GrpcStatus.DEADLINE_EXCEEDED: 504,
    GrpcStatus.NOT_FOUND: 404,
    GrpcStatus.ALREADY_EXISTS: 409,
    GrpcStatus.PERMISSION_DENIED: 403,
    GrpcStatus.RESOURCE_EXHAUSTED: 429,
    GrpcStatus.FAILED_PRECONDITION: 400,
    GrpcStatus.ABORTED: 409,
    GrpcStatus.OUT_OF_RANGE: 400,
    GrpcStatus.UNIMPLEMENTED: 501,
    GrpcStatus.INTERNAL: 500,
    GrpcStatus.UNAVAILABLE: 503,
    GrpcStatus.DATA_LOSS: 500,
    GrpcStatus.UNAUTHENTICATED: 401,
}


@dataclass(frozen=True, slots=True)
class FieldViolation:
    field: str
    description: str
    constraint: str


@dataclass(eq=False)
class KeylessError(Exception):
    """Base of every error a caller may see. Subclasses set the class-level attributes."""

    error_code: ClassVar[str] = "INTERNAL"
    grpc_status: ClassVar[GrpcStatus] = GrpcStatus.INTERNAL
    http_status_override: ClassVar[int | None] = None
    default_message: ClassVar[str] = "An internal error occurred."

    message: str = ""
    retry_after: int | None = None
    violations: tuple[FieldViolation, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.message:
            self.message = self.default_message
        Exception.__init__(self, self.message)

    @property
    def http_status(self) -> int:
        return self.http_status_override or HTTP_FOR_GRPC[self.grpc_status]


CATALOGUE: dict[str, type[KeylessError]] = {}


_E = TypeVar("_E", bound=type[KeylessError])


def _register(cls: _E) -> _E:
    if cls.error_code in CATALOGUE:
        raise RuntimeError(f"duplicate error code {cls.error_code}")
    CATALOGUE[cls.error_code] = cls
    return cls


# --- request shape -------------------------------------------------------------------------------


@_register
class InvalidRequest(KeylessError):
    """A field failed validation; ``violations`` names each failed field and rule."""

    error_code = "INVALID_ARGUMENT"
    grpc_status = GrpcStatus.INVALID_ARGUMENT
    default_message = "The request is invalid."


@_register
class MalformedBody(KeylessError):
    error_code = "MALFORMED_REQUEST_BODY"
    grpc_status = GrpcStatus.INVALID_ARGUMENT
    default_message = "The request body is not a JSON object."


@_register
class UnsupportedMediaType(KeylessError):
    error_code = "UNSUPPORTED_MEDIA_TYPE"
    grpc_status = GrpcStatus.INVALID_ARGUMENT
    http_status_override = 415
    default_message = "The request body must be sent as application/json."


@_register
class PayloadTooLarge(KeylessError):
    error_code = "PAYLOAD_TOO_LARGE"
    grpc_status = GrpcStatus.INVALID_ARGUMENT
    http_status_override = 413
    default_message = "The request body is too large."


@_register
class InvalidEmail(KeylessError):
    error_code = "INVALID_EMAIL"
    grpc_status = GrpcStatus.INVALID_ARGUMENT
    default_message = "The email address is not valid."


@_register
class MagicLinkUriNotAllowed(KeylessError):
    error_code = "MAGICLINK_AUTH_URI_NOT_ALLOWED"
    grpc_status = GrpcStatus.INVALID_ARGUMENT
    default_message = "magiclink_auth_uri must exactly match a magic-link URI registered for this client."


# --- credentials -----------------------------------------------------------------------------------


@_register
class InvalidCode(KeylessError):
    error_code = "INVALID_CODE"
    grpc_status = GrpcStatus.INVALID_ARGUMENT
    default_message = "The verification code or link is not valid."


@_register
class CredentialExpired(KeylessError):
    error_code = "EXPIRED"
    grpc_status = GrpcStatus.FAILED_PRECONDITION
    default_message = "The verification code or link has expired. Request a new one."


@_register
class AlreadyUsed(KeylessError):
    error_code = "ALREADY_USED"
    grpc_status = GrpcStatus.FAILED_PRECONDITION
    default_message = "The verification code or link has already been used."


@_register
class AuthRequestNotFound(KeylessError):
    error_code = "AUTH_REQUEST_NOT_FOUND"
    grpc_status = GrpcStatus.NOT_FOUND
    default_message = "No such authentication request."


@_register
class TooManyAttempts(KeylessError):
    error_code = "TOO_MANY_ATTEMPTS"
    grpc_status = GrpcStatus.RESOURCE_EXHAUSTED
    default_message = "Too many verification attempts. Start a new sign-in later."


@_register
class RateLimited(KeylessError):
    error_code = "RATE_LIMITED"
    grpc_status = GrpcStatus.RESOURCE_EXHAUSTED
    default_message = "Too many requests. Try again later."


@_register
class LoginNotFound(KeylessError):
    error_code = "LOGIN_NOT_FOUND"
    grpc_status = GrpcStatus.NOT_FOUND
    default_message = "This sign-in has expired or does not exist. Start again from the application."


@_register
class BrowserMismatch(KeylessError):
    error_code = "BROWSER_MISMATCH"
    grpc_status = GrpcStatus.PERMISSION_DENIED
    default_message = "Open the link in the browser where you started signing in, or enter the code instead."


@_register
class CsrfFailed(KeylessError):
    error_code = "CSRF_FAILED"
    grpc_status = GrpcStatus.PERMISSION_DENIED
    default_message = "This form has expired or did not come from this site. Go back and try again."


# --- callers ---------------------------------------------------------------------------------------


@_register
class Unauthenticated(KeylessError):
    error_code = "UNAUTHENTICATED"
    grpc_status = GrpcStatus.UNAUTHENTICATED
    default_message = "A valid bearer access token is required."


class MissingCredentials(Unauthenticated):
    """No credentials at all: the same public error, but RFC 6750 §3.1 wants no error code in the
    ``WWW-Authenticate`` challenge then."""


@_register
class InsufficientScope(KeylessError):
    error_code = "INSUFFICIENT_SCOPE"
    grpc_status = GrpcStatus.PERMISSION_DENIED
    default_message = "The access token does not grant access to this API."


@_register
class NotFound(KeylessError):
    error_code = "NOT_FOUND"
    grpc_status = GrpcStatus.NOT_FOUND
    default_message = "Not found."


@_register
class MethodNotAllowed(KeylessError):
    error_code = "METHOD_NOT_ALLOWED"
    grpc_status = GrpcStatus.UNIMPLEMENTED
    http_status_override = 405
    default_message = "Method not allowed."


# --- infrastructure --------------------------------------------------------------------------------


@_register
class DeadlineExceeded(KeylessError):
    """The caller's gRPC deadline (``grpc-timeout``) passed before the call finished."""

    error_code = "DEADLINE_EXCEEDED"
    grpc_status = GrpcStatus.DEADLINE_EXCEEDED
    default_message = "The deadline passed before the call finished."


@_register
class ServiceUnavailable(KeylessError):
    error_code = "SERVICE_UNAVAILABLE"
    grpc_status = GrpcStatus.UNAVAILABLE
    default_message = "The service is temporarily unavailable. Try again shortly."


@_register
class InternalError(KeylessError):
    error_code = "INTERNAL"
    grpc_status = GrpcStatus.INTERNAL
    default_message = "An internal error occurred."


class ConfigurationError(Exception):
    """Settings that cannot be used; raised at start-up, never shown to API callers."""
