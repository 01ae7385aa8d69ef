"""The ``keyless`` command. Bad arguments or settings give one clear line and a non-zero exit."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from keyless.cli.clients import clients_app
from keyless.cli.common import (
    JsonFlag,
    console,
    emit_json,
    err,
    fail,
    load_settings,
    migrate,
    run,
)
from keyless.cli.config import config_app
from keyless.cli.keys import keys_app
from keyless.cli.mailbox import mailbox
from keyless.cli.setup import setup
from keyless.cli.users import users_app
from keyless.errors import ConfigurationError
from keyless.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="keyless: passwordless sign-in server")
db_app = typer.Typer(no_args_is_help=True, help="Database schema")
app.add_typer(db_app, name="db")
app.add_typer(clients_app, name="clients")
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")
app.add_typer(config_app, name="config")
app.command("setup")(setup)
app.command("mailbox")(mailbox)

__all__ = ["JsonFlag", "app", "console", "emit_json", "err", "fail", "load_settings", "main", "migrate", "run"]


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default from settings)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings)")] = None,
    certfile: Annotated[
        Path | None, typer.Option(help="PEM certificate: serve HTTPS and gRPC over TLS on the same port")
    ] = None,
    keyfile: Annotated[Path | None, typer.Option(help="PEM private key of --certfile")] = None,
    dev_tls: Annotated[
        bool | None,
        typer.Option(
            "--dev-tls",
            help="Dev mode: create a local CA and a localhost certificate in <data_dir>/tls, serve TLS with it "
            "and print the CA file and the variables an SDK client needs to trust it",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Apply migrations and run the server: REST, OIDC and gRPC on one port (HTTP/1.1 and HTTP/2)."""
    import uvicorn

    from keyless.container import build_container
    from keyless.keymaterial import load_key_material
    from keyless.logs import configure_logging
    from keyless.serving import uvicorn_config

    settings = load_settings(host=host, port=port, tls_certfile=certfile, tls_keyfile=keyfile, dev_tls=dev_tls)
    settings, tls_note = _tls(settings)
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
    config = uvicorn_config(
        container,
        host=settings.host,
        port=settings.port,
        certfile=settings.tls_certfile,
        keyfile=settings.tls_keyfile,
    )
    if tls_note:
        err.print(tls_note, highlight=False, soft_wrap=True)
    err.print(f"keyless listening on {settings.public_url} ({settings.mode.value} mode)", highlight=False)
    if as_json:  # one line for a supervisor or script to read; the logs stay on stderr
        emit_json({"event": "listening", "public_url": settings.public_url, "mode": settings.mode.value})
    uvicorn.Server(config).run()


def _tls(settings: Settings) -> tuple[Settings, str]:
    """Settings with the certificate to serve (dev TLS made here), and what to tell the developer."""
    if not settings.dev_tls:
        if settings.tls_certfile is not None and settings.public_url.startswith("http://"):
            err.print("[yellow]warning:[/] serving TLS while public_url is http://", highlight=False)
        return settings, ""
    from keyless.devtls import ensure_dev_tls, trust_instructions

    made = ensure_dev_tls(settings.data_dir)
    update: dict[str, Any] = {"tls_certfile": made.certfile, "tls_keyfile": made.keyfile}
    if "public_url" not in settings.model_fields_set:
        # The default origin is http://; with dev TLS the origin SDKs must use is https://localhost.
        update["public_url"] = f"https://localhost:{settings.port}"
    settings = settings.model_copy(update=update)
    return settings, trust_instructions(made, settings.public_url)


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
def db_upgrade(as_json: JsonFlag = False) -> None:
    """Apply all pending migrations."""
    settings = load_settings()
    with err.status("applying migrations…"):
        migrate(settings)
    if as_json:
        emit_json({"status": "up to date", "database_url": settings.masked()["database_url"]})
    else:
        console.print("database is up to date")


def main() -> None:
    """Run the CLI. A usage error (unknown option, bad value) or any failure is one line on stderr and a
    non-zero exit, never a traceback: click's boxed usage report is replaced by that line."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=sys.argv[1:], prog_name="keyless", standalone_mode=False)
    except KeyboardInterrupt:
        err.print("interrupted", highlight=False)
        sys.exit(130)
    except Exception as exc:  # the one place a command's failure becomes its exit status
        sys.exit(_report(exc))
    sys.exit(code if isinstance(code, int) else 0)


def _report(exc: Exception) -> int:
    if type(exc).__name__ == "NoArgsIsHelpError":  # the help text is already printed
        return 2
    # click (or typer's copy of it) raises these for bad arguments; duck-typed so either works.
    exit_code = getattr(exc, "exit_code", None)
    if hasattr(exc, "format_message") and isinstance(exit_code, int):
        ctx = getattr(exc, "ctx", None)
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        err.print(f"[bold red]error:[/] {exc.format_message()}{where}", highlight=False, soft_wrap=True)
        return exit_code
    if type(exc).__name__ == "Abort":
        err.print("aborted", highlight=False)
        return 1
    err.print(f"[bold red]error:[/] {type(exc).__name__}: {exc}", highlight=False, soft_wrap=True, markup=True)
    return 1
