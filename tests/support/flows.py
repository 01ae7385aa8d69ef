"""HTTP helpers for tests that drive real keyless processes: the headless calls and a browser's hosted
sign-in, with the browser's cookies sent to whichever process a request goes to."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.support.cluster import MAGICLINK_URI, REDIRECT_URI, Cluster

SEND = "/api/v1/passwordless/email/send"
VERIFY = "/api/v1/passwordless/email/verify"


def error_code(response: httpx.Response) -> str:
    return str(response.json()["details"][0]["error_code"])


def split(cluster: Cluster, path: str, count: int, **kwargs: Any) -> list[tuple[str, dict[str, Any]]]:
    urls = cluster.urls
    return [(f"{urls[i % len(urls)]}{path}", kwargs) for i in range(count)]


def send(cluster: Cluster, base: str, auth: dict[str, str], email: str) -> dict[str, Any]:
    response = httpx.post(f"{base}{SEND}", json={"email": email, "magiclink_auth_uri": MAGICLINK_URI}, headers=auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class Browser:
    """One browser's cookies, sent to whichever process a request goes to (as behind a load balancer)."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def absorb(self, response: httpx.Response) -> httpx.Response:
        for name, value in response.cookies.items():
            self.cookies[name] = value
        return response

    @property
    def header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.absorb(httpx.get(url, headers=self.header, **kwargs))

    def post(self, url: str, data: dict[str, str]) -> httpx.Response:
        return self.absorb(httpx.post(url, data=data, headers=self.header))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, html[:500]
    return found.group(1)


def start_sign_in(cluster: Cluster, browser: Browser, base: str, email: str) -> str:
    """authorize → email page → send; returns the sign-in page path."""
    started = browser.get(
        f"{base}/oauth/authorize",
        params={
            "client_id": cluster.client_id,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": "openid email",
            "state": "st-1",
            "login_hint": email,
        },
    )
    assert started.status_code == 303, started.text
    page_path = started.headers["location"]
    page = browser.get(f"{base}{page_path}")
    sent = browser.post(f"{base}{page_path}/email", {"csrf": csrf_of(page.text), "email": email})
    assert sent.status_code == 303, sent.text
    return page_path


def exchange_request(cluster: Cluster, url: str, code: str) -> tuple[str, dict[str, Any]]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": cluster.client_id,
        "client_secret": cluster.client_secret,
    }
    return f"{url}/oauth/token", {"data": form}
