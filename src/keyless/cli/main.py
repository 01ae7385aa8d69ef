"""The ``keyless`` command. Bad arguments or settings give one clear line and a non-zero exit."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from keyless.errors import ConfigurationError
from keyless.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="keyless: passwordless sign-in server")
db_app = typer.Typer(no_args_is_help=True, help="Database schema")
clients_app = typer.Typer(no_args_is_help=True, help="API clients (applications)")
app.add_typer(db_app, name="db")
app.add_typer(clients_app, name="clients")

console = Console()
err = Console(stderr=True)
T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output")]


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def load_settings(**overrides: Any) -> Settings:
    try:
        Settings.check_environment()
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        text = str(first.get("msg", "")).removeprefix("Value error, ")
        fail(f"invalid setting {where} (KEYLESS_{where.upper()}): {text}" if where else text)
    except (ConfigurationError, ValueError) as exc:
        fail(str(exc))
    raise AssertionError("unreachable")


def run(coro_factory: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await coro_factory()

    try:
        return asyncio.run(main())
    except ConfigurationError as exc:
        fail(str(exc))
    raise AssertionError("unreachable")


def migrate(settings: Settings) -> None:
    from keyless.storage.migrate import upgrade
    from keyless.storage.url import parse_database_url

    try:
        upgrade(parse_database_url(settings.effective_database_url), settings.database_schema)
    except ConfigurationError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot reach the database: {exc}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default from settings)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings)")] = None,
) -> None:
    """Apply migrations and run the server."""
    import uvicorn

    from keyless.container import build_container
    from keyless.keymaterial import load_key_material
    from keyless.logs import configure_logging
    from keyless.web.app import create_app

    settings = load_settings(host=host, port=port)
    configure_logging(settings.log_level)
    try:
        load_key_material(settings)  # bad keys stop the start before anything touches the database
    except ConfigurationError as exc:
        fail(str(exc))
    migrate(settings)
    run(lambda: _check_signing_keys(settings))
    try:
        container = build_container(settings)
    except ConfigurationError as exc:
        fail(str(exc))
    config = uvicorn.Config(
        create_app(container),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="on",
    )
    err.print(f"keyless listening on {settings.public_url} ({settings.mode.value} mode)", highlight=False)
    uvicorn.Server(config).run()


async def _check_signing_keys(settings: Settings) -> None:
    """Open (and after an encryption-key rotation, re-seal) the signing keys before serving, so a
    missing key is one clear line rather than a failed start-up trace."""
    from keyless.container import build_container

    container = build_container(settings)
    try:
        await container.keyring.ensure_key(container.clock.now())
    finally:
        await container.db.close()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all pending migrations."""
    settings = load_settings()
    migrate(settings)
    console.print("database is up to date")


@clients_app.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="A name for the application")] = "Application",
    redirect_uri: Annotated[list[str] | None, typer.Option("--redirect-uri", help="OIDC callback (repeatable)")] = None,
    magiclink_uri: Annotated[
        list[str] | None, typer.Option("--magiclink-uri", help="Magic-link landing URI (repeatable)")
    ] = None,
    post_logout_uri: Annotated[
        list[str] | None, typer.Option("--post-logout-uri", help="Where /oidc/logout may return (repeatable)")
    ] = None,
    public: Annotated[bool, typer.Option("--public", help="A browser or native app: no secret, PKCE required")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Register an application; prints its id and secret (the secret is shown only now)."""
    from keyless.container import build_container

    settings = load_settings()
    migrate(settings)

    async def create() -> tuple[str, str]:
        container = build_container(settings)
        try:
            client, secret = await container.registry.register(
                name,
                redirect_uris=list(redirect_uri or []),
                magiclink_uris=list(magiclink_uri or []),
                post_logout_redirect_uris=list(post_logout_uri or []),
                public=public,
            )
            return client.id, secret
        finally:
            await container.db.close()

    try:
        client_id, secret = run(create)
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        sys.stdout.write(json.dumps({"client_id": client_id, "client_secret": secret or None}) + "\n")
    elif secret:
        console.print(f"client id     : {client_id}\nclient secret : {secret}  (shown once)", highlight=False)
    else:
        console.print(f"client id     : {client_id}  (public client: no secret; use PKCE)", highlight=False)


@clients_app.command("list")
def clients_list(as_json: JsonFlag = False) -> None:
    """List registered applications."""
    from keyless.container import build_container

    settings = load_settings()
    migrate(settings)

    async def listing() -> list[dict[str, Any]]:
        container = build_container(settings)
        try:
            return [
                {
                    "client_id": c.id,
                    "name": c.name,
                    "redirect_uris": list(c.redirect_uris),
                    "magiclink_uris": list(c.magiclink_uris),
                }
                for c in await container.clients.list()
            ]
        finally:
            await container.db.close()

    rows = run(listing)
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table("client id", "name", "redirect URIs", "magic-link URIs")
    for row in rows:
        table.add_row(row["client_id"], row["name"], "\n".join(row["redirect_uris"]), "\n".join(row["magiclink_uris"]))
    console.print(table)


def main() -> None:
    app()
