"""``keyless setup``: register an application and write the ``.env`` it reads.

Interactive at a terminal (it asks for what the flags did not give), fully driven by flags otherwise:
with no terminal it never waits for input.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from keyless.cli.clients import register
from keyless.cli.common import JsonFlag, console, emit_json, err, fail, load_settings, with_container
from keyless.cli.prompts import interactive

if TYPE_CHECKING:
    from keyless.container import Container

DEFAULT_APP_URL = "http://localhost:3000"
CALLBACK_PATH = "/auth/callback"
MAGICLINK_PATH = "/passwordless/verify"


def env_text(values: dict[str, str]) -> str:
    lines = [
        "# Written by `keyless setup`. Keep it out of version control: it holds the client secret.",
        "# KL_* are read by keyless_sdk (KeylessClient.from_env); APP_* are for the application itself.",
    ]
    lines += [f"{name}={value}" for name, value in values.items()]
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str) -> None:
    """0600 from the first byte: the file holds a secret."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def setup(
    name: Annotated[str | None, typer.Option(help="The application's name")] = None,
    app_url: Annotated[
        str | None,
        typer.Option(help=f"The application's origin; the default URIs hang off it (default {DEFAULT_APP_URL})"),
    ] = None,
    redirect_uri: Annotated[
        list[str] | None, typer.Option("--redirect-uri", help=f"OIDC callback (default <app-url>{CALLBACK_PATH})")
    ] = None,
    magiclink_uri: Annotated[
        list[str] | None,
        typer.Option("--magiclink-uri", help=f"Magic-link landing URI (default <app-url>{MAGICLINK_PATH})"),
    ] = None,
    post_logout_uri: Annotated[
        list[str] | None, typer.Option("--post-logout-uri", help="Where sign-out returns (default <app-url>/)")
    ] = None,
    env_file: Annotated[Path, typer.Option(help="Where to write the application's settings")] = Path(".env"),
    env_url: Annotated[
        str | None, typer.Option(help="The keyless URL the application calls (default: public_url)")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing env file")] = False,
    no_input: Annotated[bool, typer.Option("--no-input", help="Never ask; use flags and defaults")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Register an application (redirect, magic-link and sign-out URIs) and write its .env."""
    settings = load_settings()
    ask = interactive() and not no_input and not as_json
    if ask:
        name = name or typer.prompt("Application name", default="My application")
        app_url = app_url or typer.prompt("Application URL", default=DEFAULT_APP_URL)
    name = name or "My application"
    origin = (app_url or DEFAULT_APP_URL).rstrip("/")
    redirects = list(redirect_uri or [origin + CALLBACK_PATH])
    magiclinks = list(magiclink_uri or [origin + MAGICLINK_PATH])
    post_logouts = list(post_logout_uri or [origin + "/"])
    if env_file.exists() and not force:
        if not ask:
            fail(f"{env_file} exists: pass --force to overwrite it")
        if not typer.confirm(f"{env_file} exists. Overwrite it?", default=False):
            fail("cancelled; nothing was created", code=1)

    async def create(container: Container) -> tuple[str, str]:
        client, secret = await register(container, name, redirects, magiclinks, post_logouts)
        return client.id, secret

    with err.status("registering the application…"):
        client_id, secret = with_container(settings, create)
    values = {
        "KL_ENV_URL": (env_url or settings.public_url).rstrip("/"),
        "KL_CLIENT_ID": client_id,
        "KL_CLIENT_SECRET": secret,
        "KL_REDIRECT_URI": redirects[0],
        "KL_MAGICLINK_URI": magiclinks[0],
        "KL_POST_LOGOUT_URI": post_logouts[0],
        "APP_URL": origin,
        "APP_SECRET_KEY": secrets.token_urlsafe(32),
    }
    try:
        write_private(env_file, env_text(values))
    except OSError as exc:
        fail(f"cannot write {env_file}: {exc.strerror or exc}", code=1)
    summary = {
        "client_id": client_id,
        "env_file": str(env_file),
        "env_url": values["KL_ENV_URL"],
        "redirect_uris": redirects,
        "magiclink_uris": magiclinks,
        "post_logout_redirect_uris": post_logouts,
    }
    if as_json:
        emit_json(summary)  # the secret is in the env file only: it stays out of logs
        return
    console.print(f"[bold green]registered[/] {name} as {client_id}", highlight=False)
    console.print(f"wrote {env_file} (client secret inside; mode 0600)", highlight=False)
    console.print(f"  callback     {redirects[0]}\n  magic link   {magiclinks[0]}\n  sign-out     {post_logouts[0]}")
