"""``keyless config check``: the effective settings, secrets masked, and a refusal of unsafe ones."""

from __future__ import annotations

import ipaddress
import json
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from rich.table import Table

from keyless.cli.common import JsonFlag, console, emit_json, err, fail, validation_problems
from keyless.errors import ConfigurationError
from keyless.settings import Settings

config_app = typer.Typer(no_args_is_help=True, help="Configuration")


def extra_problems(settings: Settings) -> tuple[list[str], list[str]]:
    """Checks beyond the settings' own validation: (problems that refuse, warnings that inform)."""
    from keyless.keymaterial import decode_key

    problems: list[str] = []
    warnings: list[str] = []
    for value in settings.credential_hmac_keys:
        try:
            decode_key(value.get_secret_value(), name="credential_hmac_keys")
        except ConfigurationError as exc:
            problems.append(str(exc))
    for value in settings.encryption_keys:
        try:
            decode_key(value.get_secret_value(), name="encryption_keys", exact=32)
        except ConfigurationError as exc:
            problems.append(str(exc))
    if settings.is_dev:
        warnings.append("dev mode: generated secrets and the dev mailbox; set mode=production to deploy")
    else:
        for proxy in settings.trusted_proxies:
            if ipaddress.ip_network(proxy, strict=False).prefixlen == 0:
                problems.append(f"trusted_proxies {proxy} trusts X-Forwarded-For from anyone: per-IP limits break")
        if settings.max_expires_in > 600:
            warnings.append("max_expires_in is over 600 s; NIST SP 800-63B suggests codes live at most 10 minutes")
    return sorted(set(problems)), warnings


@config_app.command("check")
def config_check(as_json: JsonFlag = False) -> None:
    """Print the effective settings (secrets masked); exit 1 if any is invalid or unsafe."""
    try:
        Settings.check_environment()
        settings = Settings()
    except ValidationError as exc:
        _refuse(validation_problems(exc), as_json)
    except (ConfigurationError, ValueError) as exc:
        _refuse([str(exc)], as_json)
    problems, warnings = extra_problems(settings)
    if problems:
        _refuse(problems, as_json)
    masked = settings.masked()
    if as_json:
        emit_json({"ok": True, "mode": settings.mode.value, "warnings": warnings, "settings": masked})
        return
    table = Table("setting", "value", title=f"effective settings ({settings.mode.value} mode)")
    for name, value in masked.items():
        table.add_row(name, _show(value))
    console.print(table)
    for warning in warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    console.print("[bold green]ok[/]: the settings are valid")


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _refuse(problems: list[str], as_json: bool) -> NoReturn:
    if as_json:
        emit_json({"ok": False, "problems": problems})
        raise typer.Exit(1)
    for problem in problems[:-1]:
        err.print(f"[bold red]error:[/] {problem}", highlight=False, soft_wrap=True)
    fail(problems[-1], code=1)
