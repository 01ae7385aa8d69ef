"""``keyless clients``: register, inspect, rotate the secret of, and remove applications."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from keyless.cli.common import JsonFlag, console, emit_json, fail, load_settings, timestamp, with_container
from keyless.core.models import Client

if TYPE_CHECKING:
    from keyless.container import Container

clients_app = typer.Typer(no_args_is_help=True, help="API clients (applications)")

ClientId = Annotated[str, typer.Argument(help="The client id (skc_…)", show_default=False)]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")]


def client_record(client: Client) -> dict[str, Any]:
    return {
        "client_id": client.id,
        "name": client.name,
        "redirect_uris": list(client.redirect_uris),
        "magiclink_uris": list(client.magiclink_uris),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
        "public": client.is_public,
        "created_at": client.created_at,
    }


async def register(
    container: Container,
    name: str,
    redirect_uris: list[str],
    magiclink_uris: list[str],
    post_logout_uris: list[str],
    public: bool = False,
) -> tuple[Client, str]:
    try:
        return await container.registry.register(
            name,
            redirect_uris=redirect_uris,
            magiclink_uris=magiclink_uris,
            post_logout_redirect_uris=post_logout_uris,
            public=public,
        )
    except ValueError as exc:
        fail(str(exc))


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
    settings = load_settings()

    async def create(container: Container) -> tuple[Client, str]:
        return await register(
            container, name, list(redirect_uri or []), list(magiclink_uri or []), list(post_logout_uri or []), public
        )

    client, secret = with_container(settings, create)
    if as_json:
        emit_json({"client_id": client.id, "client_secret": secret or None})
    elif secret:
        console.print(f"client id     : {client.id}\nclient secret : {secret}  (shown once)", highlight=False)
    else:
        console.print(f"client id     : {client.id}  (public client: no secret; use PKCE)", highlight=False)


@clients_app.command("list")
def clients_list(as_json: JsonFlag = False) -> None:
    """List registered applications."""

    async def listing(container: Container) -> list[Client]:
        return await container.clients.list()

    clients = with_container(load_settings(), listing)
    if as_json:
        emit_json([client_record(c) for c in clients])
        return
    table = Table("client id", "name", "redirect URIs", "magic-link URIs", "type")
    for c in clients:
        kind = "public" if c.is_public else "confidential"
        table.add_row(c.id, c.name, "\n".join(c.redirect_uris), "\n".join(c.magiclink_uris), kind)
    console.print(table)


async def _get(container: Container, client_id: str) -> Client:
    client = await container.clients.get(client_id)
    if client is None:
        fail(f"no client {client_id!r} (see `keyless clients list`)", code=1)
    return client


@clients_app.command("show")
def clients_show(client_id: ClientId, as_json: JsonFlag = False) -> None:
    """Show one application and its registered URIs (never its secret, which is stored only hashed)."""

    client = with_container(load_settings(), lambda container: _get(container, client_id))
    if as_json:
        emit_json(client_record(client))
        return
    table = Table(show_header=False, box=None)
    for label, value in (
        ("client id", client.id),
        ("name", client.name),
        ("type", "public (PKCE, no secret)" if client.is_public else "confidential"),
        ("created", timestamp(client.created_at)),
        ("redirect URIs", "\n".join(client.redirect_uris) or "-"),
        ("magic-link URIs", "\n".join(client.magiclink_uris) or "-"),
        ("post-logout URIs", "\n".join(client.post_logout_redirect_uris) or "-"),
        ("scopes", " ".join(client.scopes)),
    ):
        table.add_row(f"[bold]{label}[/]", value)
    console.print(table)


@clients_app.command("rotate-secret")
def clients_rotate_secret(client_id: ClientId, as_json: JsonFlag = False) -> None:
    """Give an application a new secret; the old one stops working at once. Tokens already issued keep
    working until they expire."""
    from keyless.core.credentials import generate_secret, hash_client_secret

    async def rotate(container: Container) -> str:
        client = await _get(container, client_id)
        if client.is_public:
            fail(f"{client_id} is a public client: it has no secret to rotate", code=1)
        secret = generate_secret()
        if not await container.clients.update_secret(client_id, hash_client_secret(secret)):
            fail(f"no client {client_id!r}", code=1)
        return secret

    secret = with_container(load_settings(), rotate)
    if as_json:
        emit_json({"client_id": client_id, "client_secret": secret})
    else:
        console.print(f"client id     : {client_id}\nclient secret : {secret}  (new; shown once)", highlight=False)


@clients_app.command("delete")
def clients_delete(client_id: ClientId, yes: Yes = False, as_json: JsonFlag = False) -> None:
    """Remove an application: its API tokens stop working and its users' grants are revoked."""
    from keyless.cli.prompts import confirm_or_fail

    settings = load_settings()
    confirm_or_fail(yes, f"Delete client {client_id}? Its tokens stop working at once.")

    async def delete(container: Container) -> None:
        await _get(container, client_id)
        if not await container.clients.delete(client_id, container.clock.now()):
            fail(f"no client {client_id!r}", code=1)

    with_container(settings, delete)
    if as_json:
        emit_json({"client_id": client_id, "deleted": True})
    else:
        console.print(f"deleted client {client_id}", highlight=False)
