"""``keyless mailbox``: the dev mailbox in the terminal, newest mail first, then follows new mail."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.panel import Panel

from keyless.cli.common import JsonFlag, console, emit_json, err, fail, load_settings, migrate, opened, run, timestamp
from keyless.core.models import DevMailboxMessage
from keyless.settings import MailBackend, Settings

if TYPE_CHECKING:
    from keyless.container import Container


def message_record(m: DevMailboxMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "to": m.recipient,
        "subject": m.subject,
        "text": m.text,
        "created_at": m.created_at,
        "auth_request_id": m.auth_request_id,
    }


def show(message: DevMailboxMessage, as_json: bool) -> None:
    if as_json:
        emit_json(message_record(message))
        return
    console.print(
        Panel(
            message.text.rstrip(),
            title=f"[bold]{message.subject}[/]",
            subtitle=f"to {message.recipient} · {timestamp(message.created_at)}",
            title_align="left",
            subtitle_align="left",
        ),
        highlight=False,
    )


async def follow(
    container: Container,
    *,
    to: str | None,
    last: int,
    keep_following: bool,
    count: int | None,
    stop_after: float | None,
    interval: float,
    as_json: bool,
) -> int:
    """Print the ``last`` newest messages (oldest first), then poll for new ones. Returns how many new
    ones arrived. The store is read directly, so this works while ``keyless serve`` runs elsewhere."""
    seen: set[str] = set()
    for message in reversed(await container.dev_mailbox.list(to, last) if last else []):
        seen.add(message.id)
        show(message, as_json)
    if not last:
        seen.update(m.id for m in await container.dev_mailbox.list(to, 500))
    if not keep_following:
        return 0
    # On stderr, so --json output stays pure; scripts wait for this line before they trigger mail.
    err.print("following the dev mailbox… (Ctrl-C to stop)", highlight=False)
    arrived = 0
    loop = asyncio.get_running_loop()
    deadline = None if stop_after is None else loop.time() + stop_after
    while count is None or arrived < count:
        if deadline is not None and loop.time() >= deadline:
            break
        await asyncio.sleep(interval)
        for message in reversed(await container.dev_mailbox.list(to, 50)):
            if message.id in seen:
                continue
            seen.add(message.id)
            show(message, as_json)
            arrived += 1
    return arrived


def mailbox(
    to: Annotated[str | None, typer.Option(help="Only mail to this address (as keyless stored it)")] = None,
    last: Annotated[int, typer.Option(min=0, max=500, help="Show this many existing messages first")] = 5,
    keep_following: Annotated[
        bool, typer.Option("--follow/--no-follow", help="Keep watching for new mail (Ctrl-C to stop)")
    ] = True,
    count: Annotated[int | None, typer.Option(min=1, help="Stop after this many new messages")] = None,
    timeout: Annotated[
        float | None, typer.Option(min=0, help="Stop after this many seconds; exit 1 if --count was not reached")
    ] = None,
    interval: Annotated[float, typer.Option(min=0.05, help="Seconds between looks")] = 0.5,
    as_json: JsonFlag = False,
) -> None:
    """Follow the dev mailbox: every email keyless "sent" in dev mode, printed as it arrives.
    With --json, one JSON object per line."""
    settings: Settings = load_settings()
    if settings.mail_backend is not MailBackend.DEV_MAILBOX:
        fail("mail_backend is smtp: mail goes to the SMTP server, and the dev mailbox stays empty")
    migrate(settings)

    async def watch() -> int:
        async with opened(settings) as container:
            return await follow(
                container,
                to=to,
                last=last,
                keep_following=keep_following,
                count=count,
                stop_after=timeout,
                interval=interval,
                as_json=as_json,
            )

    try:
        arrived = run(watch)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    if count is not None and timeout is not None and arrived < count:
        fail(f"{arrived} of {count} message(s) arrived within {timeout:g} s", code=1)
