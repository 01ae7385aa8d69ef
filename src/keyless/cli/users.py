"""``keyless users``: the people who signed in through the hosted pages (OIDC)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from keyless.cli.common import JsonFlag, console, emit_json, fail, load_settings, timestamp, with_container
from keyless.cli.prompts import confirm_or_fail
from keyless.core.models import User

if TYPE_CHECKING:
    from keyless.container import Container

users_app = typer.Typer(no_args_is_help=True, help="Users (people who signed in through the hosted pages)")

UserRef = Annotated[str, typer.Argument(help="A user id (usr_…) or an email address", show_default=False)]


def user_record(user: User) -> dict[str, Any]:
    return {
        "user_id": user.id,
        "email": user.email,
        "email_verified": user.email_verified,
        "created_at": user.created_at,
        "last_login_at": user.last_login_at,
    }


async def find_user(container: Container, ref: str) -> User:
    """By id, or by address through the same identity key sign-in uses (case rules included)."""
    from keyless.core.emails import parse_email
    from keyless.errors import InvalidEmail

    if "@" in ref:
        try:
            key = parse_email(ref).key
        except InvalidEmail:
            fail(f"{ref!r} is not a valid email address")
        user = await container.users.get_by_email_key(key)
    else:
        user = await container.users.get(ref)
    if user is None:
        fail(f"no user {ref!r}", code=1)
    return user


@users_app.command("list")
def users_list(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many users")] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many users (oldest first)")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """List users, oldest first."""

    async def listing(container: Container) -> tuple[list[User], int]:
        return await container.users.list(limit, offset), await container.users.count()

    users, total = with_container(load_settings(), listing)
    if as_json:
        emit_json({"total": total, "users": [user_record(u) for u in users]})
        return
    table = Table("user id", "email", "created", "last sign-in", caption=f"{len(users)} of {total}")
    for u in users:
        table.add_row(u.id, u.email, timestamp(u.created_at), timestamp(u.last_login_at))
    console.print(table)


@users_app.command("show")
def users_show(user: UserRef, as_json: JsonFlag = False) -> None:
    """Show one user."""
    found = with_container(load_settings(), lambda container: find_user(container, user))
    if as_json:
        emit_json(user_record(found))
        return
    table = Table(show_header=False, box=None)
    for label, value in (
        ("user id", found.id),
        ("email", found.email),
        ("verified", "yes" if found.email_verified else "no"),
        ("created", timestamp(found.created_at)),
        ("last sign-in", timestamp(found.last_login_at)),
    ):
        table.add_row(f"[bold]{label}[/]", value)
    console.print(table)


@users_app.command("delete")
def users_delete(
    user: UserRef,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete a user: their keyless sessions end and their refresh tokens are revoked. Signing in again
    later creates a new user with a new id."""
    settings = load_settings()
    confirm_or_fail(yes, f"Delete user {user}? Their sessions end and refresh tokens are revoked.")

    async def delete(container: Container) -> User:
        found = await find_user(container, user)
        if not await container.users.delete(found.id, container.clock.now()):
            fail(f"no user {user!r}", code=1)
        return found

    deleted = with_container(settings, delete)
    if as_json:
        emit_json({"user_id": deleted.id, "email": deleted.email, "deleted": True})
    else:
        console.print(f"deleted user {deleted.id} ({deleted.email})", highlight=False)
