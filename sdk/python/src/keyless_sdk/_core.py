"""The SDK's logic, written once without I/O and driven by the sync and the async client alike.

Each operation is a generator: it yields the HTTP calls (and the sleeps of a retry) it needs, receives
each answer, and returns the typed result or raises. ``client.py`` runs these with ``httpx.Client``,
``aio.py`` with ``httpx.AsyncClient``, so token refresh, retries, JWKS caching and every check are the
same code in both.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from joserfc.jwk import RSAKey

from keyless_sdk.errors import KeylessSDKError, TokenValidationError, api_error, parse_retry_after
from keyless_sdk.models import (
    AccessTokenClaims,
    AuthenticationResponse,
    CodeAuthenticationOptions,
    PasswordlessType,
    RefreshTokenResponse,
    SendPasswordlessResponse,
    TemplateType,
    TokenValidationOptions,
    User,
    VerifyPasswordlessResponse,
)
from keyless_sdk.tokens import (
    JwksCache,
    access_claims,
    check_audience,
    check_issuer,
    unverified_header,
    verified_claims,
)

T = TypeVar("T")
API = "/api/v1/passwordless/email"


@dataclass(frozen=True, slots=True)
class HttpCall:
    method: str
    path: str
    json: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    bearer: str | None = None


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class HttpResult:
    status: int
    body: Any  # the parsed JSON, or None when the answer was not JSON
    retry_after: str | None


Step = HttpCall | Sleep
Flow = Generator[Step, Any, T]


@dataclass(slots=True)
class CachedToken:
    value: str
    expires_at: float
    lifetime: float


def normalise_env_url(env_url: str) -> str:
    """The environment URL is an origin; a trailing slash is forgiven, a path is not."""
    url = env_url.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^/?#\s]+", url):
        raise ValueError(f"env_url must be an origin such as https://auth.example.com, not {env_url!r}")
    return url


class Core:
    def __init__(
        self,
        env_url: str,
        client_id: str,
        client_secret: str,
        *,
        max_retries_on_429: int = 0,
        max_retry_wait: float = 30.0,
        token_refresh_margin: float = 30.0,
        leeway: float = 5.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not client_id:
            raise ValueError("client_id is required")
        self.env_url = normalise_env_url(env_url)
        self.client_id = client_id
        self.client_secret = client_secret
        self.max_retries_on_429 = max_retries_on_429
        self.max_retry_wait = max_retry_wait
        self.token_refresh_margin = token_refresh_margin
        self.leeway = leeway
        self.clock = clock or time.time
        self.token: CachedToken | None = None
        self.token_fetches = 0
        self.jwks = JwksCache()

    # --- plumbing -------------------------------------------------------------------------------

    def _call(self, call: HttpCall) -> Flow[HttpResult]:
        """One call, repeated after ``Retry-After`` on a 429 when retries are enabled and the wait is
        within ``max_retry_wait`` (a longer wait is the caller's decision, so it is raised)."""
        retries = 0
        while True:
            result: HttpResult = yield call
            if result.status == 429 and retries < self.max_retries_on_429:
                wait = parse_retry_after(result.retry_after)
                if wait is not None and wait <= self.max_retry_wait:
                    retries += 1
                    yield Sleep(float(wait))
                    continue
            return result

    def _credentials(self) -> dict[str, str]:
        return {"client_id": self.client_id, "client_secret": self.client_secret}

    def _token_is_fresh(self, token: CachedToken) -> bool:
        # Refresh ahead of expiry: the margin, but never more than a third of a short lifetime.
        margin = min(self.token_refresh_margin, token.lifetime / 3)
        return token.expires_at - margin > self.clock()

    def client_token(self) -> Flow[str]:
        """The client-credentials token: fetched on first use, and again shortly before it expires."""
        token = self.token
        if token is not None and self._token_is_fresh(token):
            return token.value
        now = self.clock()
        result = yield from self._call(
            HttpCall("POST", "/oauth/token", form={"grant_type": "client_credentials", **self._credentials()})
        )
        body = _ok(result)
        lifetime = float(body.get("expires_in") or 0)
        value = body.get("access_token")
        if not isinstance(value, str) or lifetime <= 0:
            raise KeylessSDKError("the token endpoint answered without an access token")
        self.token = CachedToken(value, now + lifetime, lifetime)
        self.token_fetches += 1
        return value

    def _api(self, path: str, payload: dict[str, Any]) -> Flow[dict[str, Any]]:
        """A passwordless API call with the bearer token. A 401 means the token went stale at the server
        (restart with new keys, clock skew): fetch a new one and try once more. keyless checks the token
        before it reads the body, so the repeat cannot spend a verification attempt."""
        for attempt in range(2):
            token = yield from self.client_token()
            result = yield from self._call(HttpCall("POST", f"{API}/{path}", json=payload, bearer=token))
            if result.status == 401 and attempt == 0:
                self.token = None
                continue
            return _ok(result)
        raise AssertionError("unreachable")

    # --- passwordless -----------------------------------------------------------------------------

    def send(
        self,
        email: str,
        template: str | TemplateType | None,
        magiclink_auth_uri: str | None,
        state: str | None,
        expires_in: int | None,
        template_variables: Mapping[str, str] | None,
    ) -> Flow[SendPasswordlessResponse]:
        payload: dict[str, Any] = {"email": email}
        if template is not None:
            payload["template"] = _template(template).value
        if magiclink_auth_uri is not None:
            payload["magiclink_auth_uri"] = magiclink_auth_uri
        if state is not None:
            payload["state"] = state
        if expires_in is not None:
            payload["expires_in"] = int(expires_in)
        if template_variables is not None:
            payload["template_variables"] = dict(template_variables)
        body = yield from self._api("send", payload)
        return _send_response(body)

    def resend(self, auth_request_id: str) -> Flow[SendPasswordlessResponse]:
        body = yield from self._api("resend", {"auth_request_id": auth_request_id})
        return _send_response(body)

    def verify(
        self, code: str | None, link_token: str | None, auth_request_id: str | None
    ) -> Flow[VerifyPasswordlessResponse]:
        if (code is None) == (link_token is None):
            raise ValueError("give exactly one of code and link_token")
        payload: dict[str, Any] = {"code": code} if code is not None else {"link_token": link_token}
        if auth_request_id is not None:
            payload["auth_request_id"] = auth_request_id
        body = yield from self._api("verify", payload)
        try:
            template = body.get("template")
            return VerifyPasswordlessResponse(
                email=str(body["email"]),
                passwordless_type=PasswordlessType(body["passwordless_type"]),
                state=body.get("state"),
                template=TemplateType(template) if template else None,
            )
        except (KeyError, ValueError) as exc:
            raise KeylessSDKError(f"unexpected verify answer: {body!r}") from exc

    # --- OpenID Connect ---------------------------------------------------------------------------

    def authenticate_with_code(
        self, code: str, redirect_uri: str, options: CodeAuthenticationOptions | None
    ) -> Flow[AuthenticationResponse]:
        options = options or CodeAuthenticationOptions()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, **self._credentials()}
        if options.code_verifier:
            form["code_verifier"] = options.code_verifier
        body = _ok((yield from self._call(HttpCall("POST", "/oauth/token", form=form))))
        id_token, access_token = body.get("id_token"), body.get("access_token")
        if not isinstance(id_token, str) or not isinstance(access_token, str):
            raise KeylessSDKError("the token endpoint answered without id_token and access_token")
        claims = yield from self._verified(id_token)
        check_issuer(claims, [self.env_url])
        check_audience(claims, [self.client_id])
        if options.nonce is not None and claims.get("nonce") != options.nonce:
            raise TokenValidationError("the ID token's nonce does not match this sign-in")
        amr = claims.get("amr")
        return AuthenticationResponse(
            user=User.from_claims(claims),
            id_token=id_token,
            access_token=access_token,
            refresh_token=body.get("refresh_token"),
            expires_in=body.get("expires_in"),
            id_token_claims=claims,
            connection_id=amr[0] if isinstance(amr, list) and amr else None,
        )

    def refresh(self, refresh_token: str) -> Flow[RefreshTokenResponse]:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, **self._credentials()}
        body = _ok((yield from self._call(HttpCall("POST", "/oauth/token", form=form))))
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if not isinstance(access, str) or not isinstance(refresh, str):
            raise KeylessSDKError("the token endpoint answered without access_token and refresh_token")
        return RefreshTokenResponse(access, refresh, body.get("expires_in"), body.get("id_token"))

    def validate_access_token(self, token: str, options: TokenValidationOptions | None) -> Flow[AccessTokenClaims]:
        options = options or TokenValidationOptions()
        header = unverified_header(token)
        claims = yield from self._verified(token, header)
        issuer = options.issuer or self.env_url
        check_issuer(claims, [issuer] if isinstance(issuer, str) else list(issuer))
        check_audience(claims, options.audience or [self.client_id])
        return access_claims(header, claims, options.required_scopes or [])

    def _verified(self, token: str, header: dict[str, Any] | None = None) -> Flow[dict[str, Any]]:
        header = header or unverified_header(token)
        key = yield from self._key(str(header["kid"]))
        return verified_claims(token, key, now=self.clock(), leeway=self.leeway)

    def _key(self, kid: str) -> Flow[RSAKey]:
        now = self.clock()
        if self.jwks.needs_fetch(kid, now):
            result = yield from self._call(HttpCall("GET", "/keys"))
            self.jwks.load(_ok(result), now)
        key = self.jwks.keys.get(kid)
        if key is None:
            raise TokenValidationError("the token names a signing key keyless does not publish")
        return key


def _ok(result: HttpResult) -> dict[str, Any]:
    if result.status != 200:
        raise api_error(result.status, result.body, result.retry_after)
    if not isinstance(result.body, dict):
        raise KeylessSDKError("keyless answered 200 without a JSON object")
    return result.body


def _template(value: str | TemplateType) -> TemplateType:
    try:
        return TemplateType(value.upper() if isinstance(value, str) else value)
    except ValueError:
        raise ValueError(f"template must be one of SIGNIN, SIGNUP, UNSPECIFIED, not {value!r}") from None


def _send_response(body: dict[str, Any]) -> SendPasswordlessResponse:
    try:
        return SendPasswordlessResponse(
            auth_request_id=str(body["auth_request_id"]),
            expires_at=int(body["expires_at"]),  # an int64, so a JSON string on the wire
            expires_in=int(body["expires_in"]),
            passwordless_type=PasswordlessType(body["passwordless_type"]),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise KeylessSDKError(f"unexpected send answer: {body!r}") from exc
