"""OIDC over HTTP in process: a browser-like cookie jar driving the hosted pages."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.api import Api

REDIRECT = "https://app.example.com/cb"
LOGOUT = "https://app.example.com/signed-out"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, html[:500]
    return found.group(1)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query, keep_blank_values=True).items()}


@dataclass
class Oidc:
    api: Api
    client_id: str
    client_secret: str

    @property
    def http(self) -> httpx.AsyncClient:
        return self.api.http

    def authorize_params(self, **extra: str) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid profile email",
            "state": "st-1",
            **extra,
        }

    async def authorize(self, **extra: str) -> httpx.Response:
        return await self.http.get("/oauth/authorize", params=self.authorize_params(**extra))

    async def sign_in(self, email: str = "alice@example.com", **extra: str) -> dict[str, str]:
        """authorize → email page → send → code page → code from the mail → back at the client.
        ``prompt=login`` by default, so an earlier session in this cookie jar does not answer."""
        extra.setdefault("prompt", "login")
        started = await self.authorize(login_hint=email, **extra)
        assert started.status_code == 303, started.text
        page = await self.http.get(started.headers["location"])
        assert page.status_code == 200 and f'value="{email}"' in page.text
        before = len(self.api.smtp.to(email))
        sent = await self.http.post(
            f"{started.headers['location']}/email", data={"csrf": csrf_of(page.text), "email": email}
        )
        assert sent.status_code == 303, sent.text
        code_page = await self.http.get(sent.headers["location"])
        mail = (await self.api.smtp.wait_for(email, before + 1))[-1]
        done = await self.http.post(sent.headers["location"], data={"csrf": csrf_of(code_page.text), "code": mail.code})
        assert done.status_code == 303, done.text
        assert done.headers["location"].startswith(REDIRECT + "?")
        return query_of(done.headers["location"])

    async def exchange(self, code: str, **extra: str) -> httpx.Response:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            **extra,
        }
        return await self.http.post("/oauth/token", data={k: v for k, v in data.items() if v is not None})


@pytest.fixture
async def oidc(api: Api) -> Oidc:
    client, secret = await api.container.registry.register(
        "web app",
        redirect_uris=[REDIRECT, REDIRECT + "2"],
        magiclink_uris=[],
        post_logout_redirect_uris=[LOGOUT],
    )
    return Oidc(api, client.id, secret)


def decode(token: str) -> dict[str, Any]:
    import json

    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))
