"""Browser plumbing for the hosted pages: cookies, CSRF tokens and same-origin checks."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from keyless.errors import CsrfFailed


class BrowserCookies:
    """Cookie names and flags: ``__Host-`` and ``Secure`` under https, plain names on http://localhost."""

    def __init__(self, public_url: str, csrf_key: bytes, session_ttl: int) -> None:
        self.secure = public_url.startswith("https://")
        prefix = "__Host-" if self.secure else ""
        self.browser_name = f"{prefix}keyless_browser"
        self.session_name = f"{prefix}keyless_session"
        self._origin = public_url
        self._csrf_key = csrf_key
        self._session_ttl = session_ttl

    def browser_secret(self, request: Request) -> str | None:
        value = request.cookies.get(self.browser_name)
        return value if value and len(value) <= 100 else None

    def ensure_browser_secret(self, request: Request) -> tuple[str, bool]:
        existing = self.browser_secret(request)
        return (existing, False) if existing else (secrets.token_urlsafe(32), True)

    def set_browser(self, response: Response, secret: str) -> None:
        self._set(response, self.browser_name, secret, max_age=None)

    def session_secret(self, request: Request) -> str | None:
        return request.cookies.get(self.session_name)

    def set_session(self, response: Response, secret: str) -> None:
        self._set(response, self.session_name, secret, max_age=self._session_ttl)

    def clear_session(self, response: Response) -> None:
        response.delete_cookie(self.session_name, path="/", secure=self.secure, httponly=True, samesite="lax")

    def _set(self, response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/", secure=self.secure, httponly=True, samesite="lax")

    # --- CSRF ---------------------------------------------------------------------------------------

    def csrf_token(self, browser_secret: str) -> str:
        return hmac.new(self._csrf_key, b"csrf:" + browser_secret.encode(), hashlib.sha256).hexdigest()

    def check_form(self, request: Request, form_token: str | None) -> str:
        """The browser secret, once the form is proven to come from our own page in this browser."""
        site = request.headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            raise CsrfFailed()
        origin = request.headers.get("origin")
        if origin is not None and origin != "null" and origin != self._origin:
            raise CsrfFailed()
        secret = self.browser_secret(request)
        if secret is None or not form_token or not hmac.compare_digest(self.csrf_token(secret), form_token):
            raise CsrfFailed()
        return secret
