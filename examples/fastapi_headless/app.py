"""A FastAPI application that draws its own sign-in screens and calls keyless's headless API.

send (email form) -> code page -> verify -> the application's own session. A magic link lands on
/passwordless/verify, which shows a page that posts the token back, so a mail scanner that fetches the
link consumes nothing.

Run it against a local keyless (see examples/README.md):  make example-fastapi
"""

from __future__ import annotations

import argparse
import html
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import uvicorn
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware

from keyless_sdk import (
    AlreadyUsedError,
    AuthRequestNotFoundError,
    ExpiredError,
    InvalidCodeError,
    InvalidEmailError,
    KeylessClient,
    KeylessError,
    PasswordlessType,
    RateLimitedError,
    TooManyAttemptsError,
)

HERE = Path(__file__).resolve().parent


def load_env(path: Path) -> None:
    """The .env that `keyless setup` wrote: NAME=value lines, # comments."""
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run `keyless setup --env-file {path}` first")
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            os.environ.setdefault(name.strip(), value.strip())


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)} · Notes</title>"
        "<meta name=viewport content='width=device-width'>"
        "<style>body{font:16px system-ui;max-width:32rem;margin:3rem auto;padding:0 1rem}"
        "input,button{font:inherit;padding:.4rem}.error{color:#b00020}</style>"
        f"<h1>{html.escape(title)}</h1>{body}</html>",
        status_code=status,
    )


def error_text(exc: KeylessError) -> str:
    """What a person should read for each keyless error (the server's own message is for logs)."""
    if isinstance(exc, InvalidCodeError):
        return "That code is not right. Check the email and try again."
    if isinstance(exc, ExpiredError):
        return "That code has expired. Ask for a new one."
    if isinstance(exc, TooManyAttemptsError):
        return f"Too many attempts. Try again in {exc.retry_after or 60} seconds."
    if isinstance(exc, RateLimitedError):
        return f"Too many emails. Try again in {exc.retry_after or 60} seconds."
    if isinstance(exc, InvalidEmailError):
        return "That email address does not look right."
    if isinstance(exc, AlreadyUsedError | AuthRequestNotFoundError):
        return "That sign-in is finished or unknown. Start again."
    return "Sign-in failed. Try again."


def create_app(keyless: KeylessClient, magiclink_uri: str, secret_key: str, https: bool) -> FastAPI:
    app = FastAPI(title="Notes (keyless headless example)", docs_url=None, redoc_url=None, openapi_url=None)
    # A signed cookie; SameSite=Lax keeps other sites' forms from posting with it (CSRF).
    app.add_middleware(SessionMiddleware, secret_key=secret_key, same_site="lax", https_only=https)

    def signin_form(message: str = "", status: int = 200) -> HTMLResponse:
        error = f"<p class=error role=alert>{html.escape(message)}</p>" if message else ""
        return page(
            "Sign in",
            f"{error}<form method=post action=/login><label>Email address "
            "<input name=email type=email autocomplete=email required></label> "
            "<button>Email me a sign-in code</button></form>",
            status,
        )

    def code_form(request: Request, message: str = "", status: int = 200) -> HTMLResponse:
        email = html.escape(request.session.get("pending_email", ""))
        error = f"<p class=error role=alert>{html.escape(message)}</p>" if message else ""
        has_code = request.session.get("passwordless_type") != PasswordlessType.LINK.value
        code = (
            "<form method=post action=/verify><label>Code <input name=code inputmode=numeric "
            "autocomplete=one-time-code required></label> <button>Sign in</button></form>"
            if has_code
            else ""
        )
        link = "" if request.session.get("passwordless_type") == "OTP" else "<p>Or open the link in that email.</p>"
        return page(
            "Check your email",
            f"<p>We sent a sign-in email to <b>{email}</b>.</p>{error}{code}{link}"
            "<form method=post action=/resend><button>Send it again</button></form>",
            status,
        )

    def sign_in(request: Request, email: str) -> RedirectResponse:
        request.session.clear()  # a new session for the signed-in person (no fixation)
        request.session["email"] = email
        return RedirectResponse("/", status_code=303)

    @app.get("/")
    async def home(request: Request) -> Response:
        email = request.session.get("email")
        if not email:
            return signin_form()
        return page(
            "Your notes",
            f"<p>Signed in as <b id=who>{html.escape(email)}</b>.</p>"
            "<form method=post action=/logout><button>Sign out</button></form>",
        )

    @app.post("/login")
    def login(request: Request, email: str = Form(...)) -> Response:
        state = secrets.token_urlsafe(16)
        try:
            sent = keyless.passwordless.send_passwordless_email(
                email, template="SIGNIN", magiclink_auth_uri=magiclink_uri, state=state
            )
        except KeylessError as exc:
            return signin_form(error_text(exc), 400 if exc.http_status < 500 else 503)
        request.session.update(
            auth_request_id=sent.auth_request_id,
            state=state,
            pending_email=email.strip(),
            passwordless_type=sent.passwordless_type.value,
        )
        return RedirectResponse("/code", status_code=303)

    @app.get("/code")
    async def code_page(request: Request) -> Response:
        if "auth_request_id" not in request.session:
            return RedirectResponse("/", status_code=303)
        return code_form(request)

    @app.post("/verify")
    def verify(request: Request, code: str = Form(...)) -> Response:
        auth_request_id = request.session.get("auth_request_id")
        if not auth_request_id:
            return RedirectResponse("/", status_code=303)
        try:
            verified = keyless.passwordless.verify_passwordless_email(
                code=code.strip(), auth_request_id=auth_request_id
            )
        except KeylessError as exc:
            return code_form(request, error_text(exc), 400 if exc.http_status < 500 else 503)
        return sign_in(request, verified.email)

    @app.post("/resend")
    def resend(request: Request) -> Response:
        auth_request_id = request.session.get("auth_request_id")
        if not auth_request_id:
            return RedirectResponse("/", status_code=303)
        try:
            keyless.passwordless.resend_passwordless_email(auth_request_id)
        except KeylessError as exc:
            return code_form(request, error_text(exc), 400 if exc.http_status < 500 else 503)
        return code_form(request, "")

    @app.get("/passwordless/verify")
    async def magic_link_landing(link_token: str = "") -> Response:
        # GET changes nothing: mail scanners fetch links. The page posts the token back (a button
        # when scripts are off), and only that POST signs in.
        token = html.escape(link_token)
        return page(
            "Signing you in",
            f"<form method=post action=/passwordless/verify id=link><input type=hidden name=link_token value='{token}'>"
            "<button>Continue signing in</button></form>"
            "<script>document.getElementById('link').submit()</script>",
        )

    @app.post("/passwordless/verify")
    def magic_link(request: Request, link_token: str = Form(...)) -> Response:
        try:
            verified = keyless.passwordless.verify_passwordless_email(
                link_token=link_token, auth_request_id=request.session.get("auth_request_id")
            )
        except KeylessError as exc:
            return signin_form(error_text(exc), 400 if exc.http_status < 500 else 503)
        expected = request.session.get("state")
        # Opened in the browser that asked for it: the state must match. Opened on another device,
        # there is no state to compare, and the link alone proves the address.
        if expected is not None and verified.state != expected:
            return signin_form("That link belongs to another sign-in. Start again.", 400)
        return sign_in(request, verified.email)

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/", status_code=303)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", type=Path, default=HERE / ".env")
    args = parser.parse_args()
    load_env(args.env_file)
    app_url = os.environ["APP_URL"]
    keyless = KeylessClient.from_env(max_retries_on_429=0, timeout=10.0)
    app = create_app(
        keyless, os.environ["KL_MAGICLINK_URI"], os.environ["APP_SECRET_KEY"], app_url.startswith("https://")
    )
    where = urlsplit(app_url)
    host = "127.0.0.1" if where.hostname in ("localhost", None) else where.hostname
    print(f"Notes (FastAPI, headless API) on {app_url}, signing in with keyless at {keyless.env_url}", flush=True)
    uvicorn.run(app, host=host, port=where.port or 80, log_level="warning")


if __name__ == "__main__":
    main()
