"""FastAPI: a dependency that admits a request only with a valid keyless access token.

    from keyless_sdk.fastapi import require_access_token

    @app.get("/api/notes")
    async def notes(claims: AccessTokenClaims = Depends(require_access_token(client, required_scopes=["notes"]))):
        ...

Answers follow RFC 6750: 401 ``invalid_token`` (or no token), 403 ``insufficient_scope``, each with
``WWW-Authenticate``; 503 when keyless's keys cannot be fetched.
"""

from __future__ import annotations

try:
    from fastapi import HTTPException, Request
    from starlette.concurrency import run_in_threadpool
except ImportError as exc:  # the core SDK works without FastAPI; only this helper needs it
    raise ImportError("keyless_sdk.fastapi needs FastAPI: pip install 'keyless-sdk[fastapi]'") from exc

from keyless_sdk.aio import AsyncKeylessClient
from keyless_sdk.client import KeylessClient
from keyless_sdk.errors import KeylessSDKError, MissingScopeError, TokenValidationError
from keyless_sdk.models import AccessTokenClaims, TokenValidationOptions
from keyless_sdk.tokens import bearer_token


class RequireAccessToken:
    """The dependency object; ``require_access_token(...)`` builds one."""

    def __init__(self, client: KeylessClient | AsyncKeylessClient, options: TokenValidationOptions) -> None:
        self.client = client
        self.options = options

    async def __call__(self, request: Request) -> AccessTokenClaims:
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            raise HTTPException(401, "A bearer access token is required.", headers={"WWW-Authenticate": "Bearer"})
        try:
            if isinstance(self.client, AsyncKeylessClient):
                return await self.client.validate_access_token_and_get_claims(token, self.options)
            # The sync client blocks on a JWKS fetch now and then: keep it off the event loop.
            return await run_in_threadpool(self.client.validate_access_token_and_get_claims, token, self.options)
        except MissingScopeError as exc:
            scopes = " ".join(self.options.required_scopes or [])
            raise HTTPException(
                403, str(exc), headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scopes}"'}
            ) from None
        except TokenValidationError as exc:
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
        except KeylessSDKError:
            raise HTTPException(503, "The sign-in service cannot be reached.", headers={"Retry-After": "5"}) from None


def require_access_token(
    client: KeylessClient | AsyncKeylessClient,
    *,
    required_scopes: list[str] | None = None,
    audience: list[str] | None = None,
    issuer: str | list[str] | None = None,
) -> RequireAccessToken:
    """A FastAPI dependency returning the validated ``AccessTokenClaims``."""
    return RequireAccessToken(client, TokenValidationOptions(issuer, audience, required_scopes))
