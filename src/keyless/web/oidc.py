"""Discovery, UserInfo, revocation and RP-initiated logout."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from joserfc import jwt
from joserfc.errors import JoseError
from starlette.responses import RedirectResponse, Response

from keyless.clock import Clock
from keyless.core.ports import ClientLookup, GrantStore, UserStore
from keyless.oidc.authorize import SUPPORTED_SCOPES
from keyless.oidc.clients import authenticate_client
from keyless.oidc.errors import OAuthError, invalid_request
from keyless.oidc.issuer import token_hash
from keyless.oidc.keys import ALGORITHM, Keyring
from keyless.oidc.signin import HostedSignin
from keyless.oidc.tokens import InvalidToken, TokenService
from keyless.web.browser import BrowserCookies
from keyless.web.errors import NO_STORE
from keyless.web.oauth import basic_credentials, read_form
from keyless.web.pages import render_page


def discovery_document(issuer: str, grant_types: list[str]) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/keys",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "end_session_endpoint": f"{issuer}/oidc/logout",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grant_types,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": [s for s in SUPPORTED_SCOPES if s != "profile"],
        "claims_supported": [
            "iss",
            "sub",
            "aud",
            "azp",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "email",
            "email_verified",
            "sid",
            "amr",
            "at_hash",
            "c_hash",
        ],
        "prompt_values_supported": ["none", "login"],
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "frontchannel_logout_supported": False,
    }


def _bearer_challenge(description: str) -> OAuthError:
    return OAuthError(
        "invalid_token",
        description,
        status=401,
        headers={
            "WWW-Authenticate": f'Bearer realm="keyless", error="invalid_token", error_description="{description}"'
        },
    )


def build_router(
    *,
    issuer: str,
    grant_types: list[str],
    tokens: TokenService,
    grants: GrantStore,
    users: UserStore,
    clients: ClientLookup,
    keyring: Keyring,
    signin: HostedSignin,
    cookies: BrowserCookies,
    clock: Clock,
) -> APIRouter:
    router = APIRouter(tags=["OpenID Connect"])
    document = orjson.dumps(discovery_document(issuer, grant_types))

    @router.get("/.well-known/openid-configuration", summary="OpenID Provider metadata")
    async def discovery() -> Response:
        return Response(document, media_type="application/json", headers={"Cache-Control": "public, max-age=300"})

    async def userinfo(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else None
        if token is None and request.method == "POST":
            form = await read_form(request, strict_type=False)
            token = form.get("access_token")
        if not token:
            raise OAuthError(
                "invalid_request",
                "An access token is required.",
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="keyless"'},
            )
        try:
            claims = await tokens.verify(token, clock.now())
        except InvalidToken:
            raise _bearer_challenge("The access token is invalid or expired.") from None
        grant_id = claims.claims.get("gid")
        grant = await grants.get(grant_id) if isinstance(grant_id, str) else None
        if grant is None or grant.revoked_at is not None or "openid" not in claims.scopes:
            raise _bearer_challenge("The access token is not valid for UserInfo.")
        user = await users.get(claims.subject)
        if user is None:
            raise _bearer_challenge("The user no longer exists.")
        body: dict[str, Any] = {"sub": user.id}
        if "email" in claims.scopes:
            body.update(email=user.email, email_verified=user.email_verified)
        return Response(orjson.dumps(body), media_type="application/json", headers=NO_STORE)

    router.add_api_route("/userinfo", userinfo, methods=["GET", "POST"], summary="UserInfo")

    @router.post("/oauth/revoke", summary="Token revocation (RFC 7009)")
    async def revoke(request: Request) -> Response:
        form = await read_form(request)
        basic = basic_credentials(request)
        client_id, secret = basic if basic else (form.get("client_id", ""), form.get("client_secret"))
        client = await authenticate_client(clients, client_id, secret, used_basic=basic is not None)
        token = form.get("token")
        if not token:
            raise invalid_request("token is required.")
        grant_id: str | None = None
        refresh = await grants.get_refresh_token(token_hash(token)) if len(token) <= 200 else None
        if refresh is not None and refresh.client_id == client.id:
            grant_id = refresh.grant_id
        else:
            try:
                access = await tokens.verify(token, clock.now())
                gid = access.claims.get("gid")
                if access.client_id == client.id and isinstance(gid, str):
                    grant_id = gid
            except InvalidToken:
                pass
        if grant_id is not None:
            await grants.revoke(grant_id, clock.now())
        # RFC 7009 §2.2: unknown or already invalid tokens also get 200.
        return Response(b"", status_code=200, headers=NO_STORE)

    @router.get("/oidc/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        params = request.query_params
        hint, target, state = (
            params.get("id_token_hint"),
            params.get("post_logout_redirect_uri"),
            params.get("state"),
        )
        client_id: str | None = None
        if hint:
            client_id = _audience_of(hint, keyring, clock.now())
            if client_id is None:
                return render_page(
                    request,
                    "error.html",
                    {"title": "Sign-out failed", "message": "The sign-out request is not valid."},
                    status_code=400,
                )
        if target:
            client = await clients.get(client_id) if client_id else None
            if client is None or target not in client.post_logout_redirect_uris:
                return render_page(
                    request,
                    "error.html",
                    {
                        "title": "Sign-out failed",
                        "message": "The address to return to after sign-out is not registered.",
                    },
                    status_code=400,
                )
        await signin.end_session(cookies.session_secret(request))
        response: Response
        if target:
            separator = "&" if "?" in target else "?"
            query = f"{separator}state={_quote(state)}" if state else ""
            response = RedirectResponse(target + query, status_code=303)
        else:
            response = render_page(request, "signed_out.html", {})
        cookies.clear_session(response)
        return response

    return router


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _audience_of(id_token: str, keyring: Keyring, now: float) -> str | None:
    """The client an ID token we issued was for; its expiry does not matter for logout."""
    try:
        header = jwt.decode(id_token, lambda obj: _key_for(obj, keyring, now), algorithms=[ALGORITHM]).claims
    except (JoseError, ValueError, KeyError):
        return None
    aud = header.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    return str(audiences[0]) if audiences and audiences[0] else None


def _key_for(obj: Any, keyring: Keyring, now: float) -> Any:
    key = keyring.public_key(str(obj.headers().get("kid", "")), now)
    if key is None:
        raise KeyError("unknown kid")
    return key
