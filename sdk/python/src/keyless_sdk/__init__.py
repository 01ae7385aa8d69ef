"""keyless SDK: passwordless email sign-in for Python applications.

The names follow Scalekit's Python SDK, so moving an application from Scalekit is a rename::

    from keyless_sdk import KeylessClient

    client = KeylessClient("http://localhost:8080", client_id, client_secret)
    sent = client.passwordless.send_passwordless_email("ada@example.com")
    verified = client.passwordless.verify_passwordless_email(code="123456", auth_request_id=sent.auth_request_id)

The FastAPI and Flask helpers live in ``keyless_sdk.fastapi`` and ``keyless_sdk.flask`` and are imported
only when used, so neither framework is needed for the rest.
"""

from keyless_sdk._http import __version__
from keyless_sdk.aio import AsyncKeylessClient, AsyncPasswordlessClient
from keyless_sdk.client import KeylessClient, PasswordlessClient
from keyless_sdk.errors import (
    AlreadyUsedError,
    AuthRequestNotFoundError,
    BrowserMismatchError,
    CsrfFailedError,
    ExpiredError,
    FieldViolation,
    InsufficientScopeError,
    InternalError,
    InvalidArgumentError,
    InvalidClientError,
    InvalidCodeError,
    InvalidEmailError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    KeylessConnectionError,
    KeylessError,
    KeylessSDKError,
    KeylessTimeoutError,
    LoginNotFoundError,
    MagiclinkAuthUriNotAllowedError,
    MalformedRequestBodyError,
    MethodNotAllowedError,
    MissingScopeError,
    NotFoundError,
    OAuthError,
    PayloadTooLargeError,
    RateLimitedError,
    ServiceUnavailableError,
    TokenValidationError,
    TooManyAttemptsError,
    UnauthenticatedError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
    UnsupportedMediaTypeError,
)
from keyless_sdk.models import (
    AccessTokenClaims,
    AuthenticationResponse,
    AuthorizationUrlOptions,
    CodeAuthenticationOptions,
    LogoutUrlOptions,
    PasswordlessType,
    PkcePair,
    RefreshTokenResponse,
    SendPasswordlessResponse,
    TemplateType,
    TokenValidationOptions,
    User,
    VerifyPasswordlessResponse,
)
from keyless_sdk.urls import generate_pkce, generate_state

__all__ = [
    "AccessTokenClaims",
    "AlreadyUsedError",
    "AsyncKeylessClient",
    "AsyncPasswordlessClient",
    "AuthRequestNotFoundError",
    "AuthenticationResponse",
    "AuthorizationUrlOptions",
    "BrowserMismatchError",
    "CodeAuthenticationOptions",
    "CsrfFailedError",
    "ExpiredError",
    "FieldViolation",
    "InsufficientScopeError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidClientError",
    "InvalidCodeError",
    "InvalidEmailError",
    "InvalidGrantError",
    "InvalidRequestError",
    "InvalidScopeError",
    "KeylessClient",
    "KeylessConnectionError",
    "KeylessError",
    "KeylessSDKError",
    "KeylessTimeoutError",
    "LoginNotFoundError",
    "LogoutUrlOptions",
    "MagiclinkAuthUriNotAllowedError",
    "MalformedRequestBodyError",
    "MethodNotAllowedError",
    "MissingScopeError",
    "NotFoundError",
    "OAuthError",
    "PasswordlessClient",
    "PasswordlessType",
    "PayloadTooLargeError",
    "PkcePair",
    "RateLimitedError",
    "RefreshTokenResponse",
    "SendPasswordlessResponse",
    "ServiceUnavailableError",
    "TemplateType",
    "TokenValidationError",
    "TokenValidationOptions",
    "TooManyAttemptsError",
    "UnauthenticatedError",
    "UnauthorizedClientError",
    "UnsupportedGrantTypeError",
    "UnsupportedMediaTypeError",
    "User",
    "VerifyPasswordlessResponse",
    "__version__",
    "generate_pkce",
    "generate_state",
]
