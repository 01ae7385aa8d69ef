"""Flask: a decorator that admits a request only with a valid keyless access token.

    from keyless_sdk.flask import current_claims, require_access_token

    @app.get("/api/notes")
    @require_access_token(client, required_scopes=["notes"])
    def notes():
        return {"user": current_claims().subject}

Answers follow RFC 6750: 401 ``invalid_token`` (or no token), 403 ``insufficient_scope``, each with
``WWW-Authenticate`` and a JSON body; 503 when keyless's keys cannot be fetched.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

try:
    from flask import g, jsonify, request
    from flask.typing import ResponseReturnValue
except ImportError as exc:  # the core SDK works without Flask; only this helper needs it
    raise ImportError("keyless_sdk.flask needs Flask: pip install 'keyless-sdk[flask]'") from exc

from keyless_sdk.client import KeylessClient
from keyless_sdk.errors import KeylessSDKError, MissingScopeError, TokenValidationError
from keyless_sdk.models import AccessTokenClaims, TokenValidationOptions
from keyless_sdk.tokens import bearer_token

F = TypeVar("F", bound=Callable[..., Any])


def _refuse(status: int, error: str, description: str, challenge: str) -> ResponseReturnValue:
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers["WWW-Authenticate"] = challenge
    return response


def require_access_token(
    client: KeylessClient,
    *,
    required_scopes: list[str] | None = None,
    audience: list[str] | None = None,
    issuer: str | list[str] | None = None,
) -> Callable[[F], F]:
    """A view decorator; the view reads the validated claims with ``current_claims()``."""
    options = TokenValidationOptions(issuer, audience, required_scopes)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            token = bearer_token(request.headers.get("Authorization"))
            if token is None:
                return _refuse(401, "invalid_request", "A bearer access token is required.", "Bearer")
            try:
                g.keyless_claims = client.validate_access_token_and_get_claims(token, options)
            except MissingScopeError as exc:
                scopes = " ".join(required_scopes or [])
                return _refuse(
                    403, "insufficient_scope", str(exc), f'Bearer error="insufficient_scope", scope="{scopes}"'
                )
            except TokenValidationError as exc:
                return _refuse(401, "invalid_token", str(exc), 'Bearer error="invalid_token"')
            except KeylessSDKError:
                response = jsonify(error="temporarily_unavailable", error_description="keyless cannot be reached.")
                response.status_code = 503
                return response
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


def current_claims() -> AccessTokenClaims:
    """The claims of the request's access token, inside a ``require_access_token`` view."""
    claims = g.get("keyless_claims")
    if not isinstance(claims, AccessTokenClaims):
        raise RuntimeError("current_claims() is only available inside a view decorated with require_access_token")
    return claims
