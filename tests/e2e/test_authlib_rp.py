"""A real relying-party library (Authlib) completes the code flow with PKCE against a running keyless,
from the discovery document alone, and validates the ID token."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

from tests.support.server import ServerProcess, run_cli
from tests.support.smtp import SmtpSink, free_port

CALLBACK_PORT = free_port()
REDIRECT = f"http://127.0.0.1:{CALLBACK_PORT}/callback"


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def server(tmp_path: Path, smtp: SmtpSink) -> Iterator[ServerProcess]:
    settings = {"mail_backend": "smtp", "smtp_host": "127.0.0.1", "smtp_port": str(smtp.port), "smtp_security": "none"}
    with ServerProcess(tmp_path, **settings) as running:
        yield running


def register(server: ServerProcess) -> tuple[str, str]:
    result = run_cli(server.workdir, "clients", "create", "--name", "rp", "--redirect-uri", REDIRECT, "--json")
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    return created["client_id"], created["client_secret"]


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found
    return found.group(1)


def test_authlib_code_flow_with_pkce(server: ServerProcess, smtp: SmtpSink) -> None:
    client_id, client_secret = register(server)
    metadata = httpx.get(f"{server.url}/.well-known/openid-configuration").json()
    assert metadata["issuer"] == server.settings["public_url"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["authorization_response_iss_parameter_supported"] is True

    rp = OAuth2Client(
        client_id, client_secret, scope="openid email", redirect_uri=REDIRECT, code_challenge_method="S256"
    )
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    url, state = rp.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce, login_hint="rp-user@example.com"
    )
    # The discovery document names the public URL; the browser below talks to the same server.
    url = url.replace(metadata["issuer"], server.url)

    with httpx.Client(base_url=server.url) as browser:
        started = browser.get(url)
        assert started.status_code == 303
        page = browser.get(started.headers["location"])
        assert 'value="rp-user@example.com"' in page.text
        sent = browser.post(
            f"{started.headers['location']}/email", data={"csrf": csrf(page.text), "email": "rp-user@example.com"}
        )
        code_page = browser.get(sent.headers["location"])
        code = smtp.wait_for_sync("rp-user@example.com")[0].code
        done = browser.post(sent.headers["location"], data={"csrf": csrf(code_page.text), "code": code})
        assert done.status_code == 303
        callback = done.headers["location"]
    assert callback.startswith(REDIRECT)

    token = rp.fetch_token(
        metadata["token_endpoint"].replace(metadata["issuer"], server.url),
        authorization_response=callback,
        code_verifier=verifier,
        state=state,
    )
    jwks = JsonWebKey.import_key_set(httpx.get(metadata["jwks_uri"].replace(metadata["issuer"], server.url)).json())
    claims = jwt.decode(
        token["id_token"],
        jwks,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": metadata["issuer"]}},
        claims_params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]},
    )
    claims.validate()
    assert claims["email"] == "rp-user@example.com" and claims["email_verified"] is True
    assert "refresh_token" in token and token["token_type"] == "Bearer"

    info = httpx.get(
        metadata["userinfo_endpoint"].replace(metadata["issuer"], server.url),
        headers={"Authorization": f"Bearer {token['access_token']}"},
    ).json()
    assert info["sub"] == claims["sub"]

    refreshed = rp.refresh_token(metadata["token_endpoint"].replace(metadata["issuer"], server.url))
    assert refreshed["refresh_token"] != token["refresh_token"]
