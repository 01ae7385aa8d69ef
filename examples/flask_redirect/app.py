"""A Flask application that signs people in through keyless's hosted pages (the OIDC redirect flow).

/login -> keyless's sign-in pages -> /auth/callback (authenticate_with_code, PKCE, state and nonce
checked) -> the application's session -> /logout ends it here and at keyless.

Run it against a local keyless (see examples/README.md):  make example-flask
"""

from __future__ import annotations

import argparse
import html
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, redirect, request, session
from werkzeug.wrappers import Response

from keyless_sdk import (
    AuthorizationUrlOptions,
    CodeAuthenticationOptions,
    KeylessClient,
    KeylessSDKError,
    LogoutUrlOptions,
    generate_pkce,
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


def page(title: str, body: str, status: int = 200) -> tuple[str, int]:
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)} · Journal</title>"
        "<style>body{font:16px system-ui;max-width:32rem;margin:3rem auto;padding:0 1rem}"
        ".error{color:#b00020}</style>"
        f"<h1>{html.escape(title)}</h1>{body}</html>",
        status,
    )


def failed(why: str) -> tuple[str, int]:
    return page("Sign-in failed", f"<p class=error role=alert>{html.escape(why)} <a href=/>Try again</a>.</p>", 400)


def create_app(keyless: KeylessClient, redirect_uri: str, post_logout_uri: str, secret_key: str) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key,
        SESSION_COOKIE_SAMESITE="Lax",  # sent on keyless's top-level redirect back, not on cross-site posts
        SESSION_COOKIE_SECURE=redirect_uri.startswith("https://"),
    )

    @app.get("/")
    def home() -> tuple[str, int]:
        user = session.get("user")
        if not user:
            return page(
                "Journal",
                "<p>You are not signed in.</p><form action=/login><label>Email address "
                "<input name=email type=email autocomplete=email></label> <button>Sign in</button></form>",
            )
        return page(
            "Journal",
            f"<p>Signed in as <b id=who>{html.escape(user['email'])}</b> "
            f"(user id <code>{html.escape(user['id'])}</code>).</p><p><a href=/logout>Sign out</a></p>",
        )

    @app.get("/login")
    def login() -> Response:
        pkce = generate_pkce()
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        # Kept in this browser's session: the callback must come back to the browser that left.
        session.update(state=state, nonce=nonce, code_verifier=pkce.code_verifier)
        options = AuthorizationUrlOptions(
            state=state,
            nonce=nonce,
            login_hint=request.args.get("email") or None,
            code_challenge=pkce.code_challenge,
            code_challenge_method="S256",
        )
        return redirect(keyless.get_authorization_url(redirect_uri, options))

    @app.get("/auth/callback")
    def callback() -> Response | tuple[str, int]:
        state, nonce = session.pop("state", None), session.pop("nonce", None)
        verifier = session.pop("code_verifier", None)
        if request.args.get("error"):
            # Never echo error_description: it is attacker-influenced text.
            return failed("keyless did not sign you in.")
        code = request.args.get("code")
        if not code or state is None or not secrets.compare_digest(request.args.get("state", ""), state):
            return failed("This sign-in did not start here.")
        try:
            result = keyless.authenticate_with_code(
                code, redirect_uri, CodeAuthenticationOptions(code_verifier=verifier, nonce=nonce)
            )
        except KeylessSDKError:
            app.logger.exception("code exchange failed")
            return failed("The sign-in could not be completed.")
        session.clear()  # a fresh session for the signed-in person
        session["user"] = {"id": result.user.id, "email": result.user.email or ""}
        session["id_token"] = result.id_token  # needed as id_token_hint to end keyless's session
        return redirect("/")

    @app.get("/logout")
    def logout() -> Response:
        id_token = session.get("id_token")
        session.clear()
        if not id_token:
            return redirect("/")
        options = LogoutUrlOptions(id_token_hint=id_token, post_logout_redirect_uri=post_logout_uri)
        return redirect(keyless.get_logout_url(options))

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", type=Path, default=HERE / ".env")
    args = parser.parse_args()
    load_env(args.env_file)
    keyless = KeylessClient.from_env()
    app = create_app(
        keyless, os.environ["KL_REDIRECT_URI"], os.environ["KL_POST_LOGOUT_URI"], os.environ["APP_SECRET_KEY"]
    )
    where = urlsplit(os.environ["APP_URL"])
    host = "127.0.0.1" if where.hostname in ("localhost", None) else where.hostname
    print(f"Journal (Flask, redirect flow) on {os.environ['APP_URL']}, signing in with keyless at {keyless.env_url}")
    app.run(host=host, port=where.port or 80)


if __name__ == "__main__":
    main()
