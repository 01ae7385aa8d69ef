"""Access-token validation against keyless's JWKS, including a key rotation made with the CLI while the
server runs: the SDK fetches the JWKS again for the new kid, with no restart."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest

from keyless_sdk import (
    AsyncKeylessClient,
    AuthorizationUrlOptions,
    KeylessClient,
    LogoutUrlOptions,
    MissingScopeError,
    TokenValidationError,
    TokenValidationOptions,
    generate_pkce,
)
from tests.support.server import ServerProcess, run_cli


def header(token: str) -> dict[str, str]:
    part = token.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def fresh_token(server: ServerProcess, credentials: tuple[str, str]) -> str:
    response = httpx.post(
        f"{server.url}/oauth/token", data={"grant_type": "client_credentials"}, auth=credentials, timeout=10
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def test_validate_access_token(server: ServerProcess, credentials: tuple[str, str]) -> None:
    client = KeylessClient(server.url, *credentials)
    token = fresh_token(server, credentials)
    claims = client.validate_access_token_and_get_claims(
        token, TokenValidationOptions(required_scopes=["passwordless"])
    )
    assert claims.subject == credentials[0] and claims.client_id == credentials[0]
    assert claims.scopes == ("passwordless",) and claims.issuer == server.url and claims["jti"].startswith("tkn_")
    assert client.validate_access_token(token) is True
    assert client.validate_access_token(token, TokenValidationOptions(required_scopes=["admin"])) is False
    with pytest.raises(MissingScopeError):
        client.validate_access_token_and_get_claims(token, TokenValidationOptions(required_scopes=["admin"]))
    assert client.validate_access_token(token, TokenValidationOptions(issuer="https://other.example")) is False
    assert client.validate_access_token(token, TokenValidationOptions(audience=["skc_other"])) is False
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert client.validate_access_token(tampered) is False
    assert client.validate_access_token("not.a.jwt") is False
    later = KeylessClient(server.url, *credentials, clock=lambda: time.time() + 3600)
    with pytest.raises(TokenValidationError, match="expired"):
        later.validate_access_token_and_get_claims(token)
    assert client.core.jwks.fetches == 1  # one JWKS fetch served every check above


async def test_async_validation(server: ServerProcess, credentials: tuple[str, str]) -> None:
    async with AsyncKeylessClient(server.url, *credentials) as client:
        token = await client.get_client_access_token()
        assert await client.validate_access_token(token) is True
        claims = await client.validate_access_token_and_get_claims(token)
        assert claims.audience == (credentials[0],)


def test_key_rotation_needs_no_restart(server: ServerProcess, credentials: tuple[str, str]) -> None:
    client = KeylessClient(server.url, *credentials)
    old_token = fresh_token(server, credentials)
    assert client.validate_access_token(old_token)
    rotated = run_cli(server.workdir, "keys", "rotate", "--activate-in", "2", "--json", **server.settings)
    assert rotated.returncode == 0, rotated.stderr
    new_kid = json.loads(rotated.stdout)["kid"]
    published = {k["kid"] for k in httpx.get(f"{server.url}/keys").json()["keys"]}
    deadline = time.monotonic() + 10
    while new_kid not in published and time.monotonic() < deadline:  # the server reloads keys every second
        time.sleep(0.2)
        published = {k["kid"] for k in httpx.get(f"{server.url}/keys").json()["keys"]}
    assert new_kid in published and header(old_token)["kid"] in published  # both published
    assert header(fresh_token(server, credentials))["kid"] != new_kid  # not signing yet
    deadline = time.monotonic() + 10
    new_token = fresh_token(server, credentials)
    while header(new_token)["kid"] != new_kid and time.monotonic() < deadline:
        time.sleep(0.2)
        new_token = fresh_token(server, credentials)
    assert header(new_token)["kid"] == new_kid
    client.core.jwks.min_refetch = 0  # the JWKS was fetched moments ago; allow the refetch at once
    assert client.validate_access_token(new_token)  # unknown kid -> JWKS fetched again
    assert client.validate_access_token(old_token)  # the old key verifies until it is retired
    assert client.core.jwks.fetches == 2
    listed = json.loads(run_cli(server.workdir, "keys", "list", "--json", **server.settings).stdout)
    states = {row["kid"]: row["state"] for row in listed}
    assert states[new_kid] == "signing" and states[header(old_token)["kid"]] == "retiring"


def test_urls_are_built_locally(credentials: tuple[str, str]) -> None:
    client = KeylessClient("https://auth.example.com/", credentials[0], credentials[1])
    pkce = generate_pkce()
    url = client.get_authorization_url(
        "https://app.example.com/cb",
        AuthorizationUrlOptions(state="s t", nonce="n", login_hint="a@b.c", code_challenge=pkce.code_challenge),
    )
    assert url.startswith("https://auth.example.com/oauth/authorize?response_type=code&client_id=")
    assert "scope=openid+profile+email&state=s+t&nonce=n&login_hint=a%40b.c" in url
    assert f"code_challenge={pkce.code_challenge}&code_challenge_method=S256" in url
    assert len(pkce.code_verifier) >= 43 and pkce.code_challenge != pkce.code_verifier
    logout = client.get_logout_url(LogoutUrlOptions(id_token_hint="t", post_logout_redirect_uri="https://app/"))
    assert (
        logout == "https://auth.example.com/oidc/logout?id_token_hint=t&post_logout_redirect_uri=https%3A%2F%2Fapp%2F"
    )
    with pytest.raises(ValueError, match="origin"):
        KeylessClient("https://auth.example.com/tenant", "c", "s")
