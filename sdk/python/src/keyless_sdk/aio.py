"""The asynchronous client: ``AsyncKeylessClient(env_url, client_id, client_secret)``; the same methods, awaited."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx

from keyless_sdk import _http
from keyless_sdk._core import Core, Flow, Sleep
from keyless_sdk.errors import TokenValidationError
from keyless_sdk.models import (
    AccessTokenClaims,
    AuthenticationResponse,
    AuthorizationUrlOptions,
    CodeAuthenticationOptions,
    LogoutUrlOptions,
    RefreshTokenResponse,
    SendPasswordlessResponse,
    TemplateType,
    TokenValidationOptions,
    VerifyPasswordlessResponse,
)
from keyless_sdk.urls import authorization_url, logout_url

T = TypeVar("T")


class AsyncPasswordlessClient:
    """``client.passwordless``: the headless API (send, resend, verify), awaited."""

    def __init__(self, client: AsyncKeylessClient) -> None:
        self._client = client

    async def send_passwordless_email(
        self,
        email: str,
        template: str | TemplateType | None = None,
        magiclink_auth_uri: str | None = None,
        state: str | None = None,
        expires_in: int | None = None,
        template_variables: Mapping[str, str] | None = None,
    ) -> SendPasswordlessResponse:
        """Email a code and/or magic link (the server's ``passwordless_type`` decides which)."""
        core = self._client.core
        return await self._client.run(
            core.send(email, template, magiclink_auth_uri, state, expires_in, template_variables)
        )

    async def resend_passwordless_email(self, auth_request_id: str) -> SendPasswordlessResponse:
        """Email the request's credential again; the ``auth_request_id`` stays the same."""
        return await self._client.run(self._client.core.resend(auth_request_id))

    async def verify_passwordless_email(
        self, code: str | None = None, link_token: str | None = None, auth_request_id: str | None = None
    ) -> VerifyPasswordlessResponse:
        """Check a code (with ``auth_request_id``) or a magic link's ``link_token``."""
        return await self._client.run(self._client.core.verify(code, link_token, auth_request_id))


class AsyncKeylessClient:
    """A keyless environment, seen from an application.

    Nothing is fetched at construction. The client-credentials token is fetched on the first API call,
    refreshed shortly before it expires and after a 401; the JWKS is cached and fetched again when a
    token names an unknown ``kid``. Every call has ``timeout`` (seconds). With ``max_retries_on_429``
    above 0, a 429 whose ``Retry-After`` is at most ``max_retry_wait`` seconds is waited out and retried.
    """

    def __init__(
        self,
        env_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float | httpx.Timeout = _http.DEFAULT_TIMEOUT,
        max_retries_on_429: int = 0,
        max_retry_wait: float = 30.0,
        leeway: float = 5.0,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.core = Core(
            env_url,
            client_id,
            client_secret,
            max_retries_on_429=max_retries_on_429,
            max_retry_wait=max_retry_wait,
            leeway=leeway,
            clock=clock,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self.passwordless = AsyncPasswordlessClient(self)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> AsyncKeylessClient:
        """A client from ``KL_ENV_URL``, ``KL_CLIENT_ID`` and ``KL_CLIENT_SECRET``."""
        return cls(*_http.credentials_from_env(environ), **options)

    @property
    def env_url(self) -> str:
        return self.core.env_url

    @property
    def client_id(self) -> str:
        return self.core.client_id

    async def run(self, flow: Flow[T]) -> T:
        """Drive one operation: perform each call it asks for and hand back the answer."""
        try:
            step = next(flow)
            while True:
                if isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                    step = flow.send(None)
                    continue
                try:
                    response = await self._http.request(**_http.request_args(self.core.env_url, step))
                except httpx.HTTPError as exc:
                    raise _http.transport_error(exc, step) from exc
                step = flow.send(_http.result(response))
        except StopIteration as stop:
            value: T = stop.value
            return value

    # --- OpenID Connect -------------------------------------------------------------------------

    def get_authorization_url(self, redirect_uri: str, options: AuthorizationUrlOptions | None = None) -> str:
        """Where to send the browser to sign in. Built locally; pass a PKCE challenge in ``options``."""
        return authorization_url(self.core.env_url, self.core.client_id, redirect_uri, options)

    async def authenticate_with_code(
        self, code: str, redirect_uri: str, options: CodeAuthenticationOptions | None = None
    ) -> AuthenticationResponse:
        """Exchange the callback's ``code``; the ID token is verified before the result is returned."""
        return await self.run(self.core.authenticate_with_code(code, redirect_uri, options))

    async def refresh_access_token(self, refresh_token: str) -> RefreshTokenResponse:
        """New tokens for a refresh token. The old refresh token is spent: store the new one."""
        return await self.run(self.core.refresh(refresh_token))

    async def validate_access_token(self, token: str, options: TokenValidationOptions | None = None) -> bool:
        """True when ``token`` is a valid keyless access token for ``options``; False when it is not.
        Network failures raise rather than read as "invalid"."""
        try:
            await self.validate_access_token_and_get_claims(token, options)
        except TokenValidationError:
            return False
        return True

    async def validate_access_token_and_get_claims(
        self, token: str, options: TokenValidationOptions | None = None
    ) -> AccessTokenClaims:
        """The token's claims after every check; raises ``TokenValidationError`` otherwise."""
        return await self.run(self.core.validate_access_token(token, options))

    def get_logout_url(self, options: LogoutUrlOptions | None = None) -> str:
        """Where to send the browser to end its keyless session. Built locally."""
        return logout_url(self.core.env_url, options)

    async def get_client_access_token(self) -> str:
        """The client-credentials access token the SDK uses for the API (cached)."""
        return await self.run(self.core.client_token())

    # --- lifecycle --------------------------------------------------------------------------------

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncKeylessClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()
