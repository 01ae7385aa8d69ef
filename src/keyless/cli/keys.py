"""``keyless keys``: the token-signing keys. A rotation publishes the new key before it signs and
retires the old ones only after every token they signed has expired."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from keyless.cli.common import JsonFlag, console, emit_json, err, fail, load_settings, timestamp, with_container
from keyless.core.models import SigningKey

if TYPE_CHECKING:
    from keyless.container import Container

keys_app = typer.Typer(no_args_is_help=True, help="Token-signing keys (the JWKS)")

# Tokens are checked with a little leeway for clock skew (ours and the SDKs'); keep the old key a minute longer.
SKEW_MARGIN = 60


def key_state(key: SigningKey, now: float, signing_kid: str | None) -> str:
    if key.retire_at is not None and key.retire_at <= now:
        return "retired"
    if key.kid == signing_kid:
        return "signing"
    if key.not_before > now:
        return "published"  # in the JWKS, signs from not_before
    return "retiring" if key.retire_at is not None else "verifying"


def key_record(key: SigningKey, now: float, signing_kid: str | None) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "algorithm": key.algorithm,
        "state": key_state(key, now, signing_kid),
        "created_at": key.created_at,
        "not_before": key.not_before,
        "retire_at": key.retire_at,
    }


async def _records(container: Container) -> list[dict[str, Any]]:
    now = container.clock.now()
    await container.keyring.reload()
    try:
        signing: str | None = container.keyring.signing_key(now).record.kid
    except RuntimeError:
        signing = None
    return [key_record(k, now, signing) for k in await container.signing_keys.list()]


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table("kid", "state", "created", "signs from", "retires at")
    for row in rows:
        table.add_row(
            row["kid"],
            row["state"],
            timestamp(row["created_at"]),
            timestamp(row["not_before"]),
            timestamp(row["retire_at"]),
        )
    return table


@keys_app.command("list")
def keys_list(as_json: JsonFlag = False) -> None:
    """List the signing keys: which one signs, which are published ahead, which are being retired."""
    rows = with_container(load_settings(), _records)
    if as_json:
        emit_json(rows)
    else:
        console.print(_table(rows))


@keys_app.command("rotate")
def keys_rotate(
    activate_in: Annotated[
        int,
        typer.Option(
            "--activate-in",
            min=0,
            help="Seconds the new key is published before it signs. Every keyless process and every "
            "JWKS cache (max-age 300 s) must pick it up in that time.",
        ),
    ] = 600,
    as_json: JsonFlag = False,
) -> None:
    """Add a new signing key. It is in the JWKS at once, signs after --activate-in seconds, and the
    current keys are retired once the longest-lived token they signed has expired."""
    settings = load_settings()
    retire_after = max(settings.access_token_ttl, settings.id_token_ttl) + SKEW_MARGIN
    if activate_in < settings.key_refresh_seconds:
        err.print(
            f"[yellow]warning:[/] --activate-in {activate_in} is shorter than key_refresh_seconds "
            f"({settings.key_refresh_seconds:g}); other processes learn the key on first sight of its kid",
            highlight=False,
        )

    async def rotate(container: Container) -> dict[str, Any]:
        if not await container.signing_keys.list():
            fail("there is no signing key yet: start `keyless serve` once first", code=1)
        with err.status("generating a 2048-bit RSA key…"):
            record = await container.keyring.rotate(
                container.clock.now(), publish_ahead=float(activate_in), retire_after=float(retire_after)
            )
        return {"kid": record.kid, "not_before": record.not_before, "keys": await _records(container)}

    result = with_container(settings, rotate)
    if as_json:
        emit_json(result)
        return
    console.print(
        f"new key {result['kid']} is published now and signs from {timestamp(result['not_before'])}; "
        f"the previous keys retire {retire_after} s after that",
        highlight=False,
    )
    console.print(_table(result["keys"]))
