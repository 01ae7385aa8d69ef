"""CPU cost of the pieces of a headless flow, in-process, one at a time: no HTTP, no FastAPI, no load.

    .venv/bin/python bench/components.py [--n 2000]

Builds the real container (SQLite in a temporary directory, dev mailbox) and times, in process CPU
(all threads, so the SQLite writer thread's share is included): whole flows through the core
(``flows.send`` -> delivery -> mailbox read -> ``flows.verify``), then single components. The gap
between a flow here and a flow through ``keyless serve`` is what HTTP, uvicorn and FastAPI add.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import os
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import uvloop

from keyless.cli.main import migrate
from keyless.container import Container, build_container
from keyless.core.credentials import generate_otp, generate_prefixed_id, generate_request_id
from keyless.core.emails import parse_email
from keyless.core.flows.passwordless import Caller, SendCommand, VerifyCommand
from keyless.core.models import DevMailboxMessage, EmailContent, PasswordlessType, TemplateType
from keyless.settings import Settings
from keyless.storage.database import Row, Stmt
from keyless.storage.sqlite import SqliteDatabase
from keyless.storage.stores import SqlDevMailboxStore
from keyless.web.schemas import SendRequestBody

CODE = re.compile(r"(?m)^\s*(\d{6})\s*$")
UNLIMITED = 1_000_000_000
_addresses = itertools.count()  # a fresh address per flow: the per-address limits stay at their defaults


class _Capture:
    """Stands in for the Database to capture the statements a store would send."""

    statements: list[Stmt] = []

    async def transaction(self, statements: Sequence[Stmt]) -> list[list[Row]] | None:
        self.statements = list(statements)
        return []


def _run_sync(coro: Coroutine[Any, Any, None]) -> None:
    try:
        coro.send(None)
    except StopIteration:
        return
    raise RuntimeError("the coroutine awaited something")


def per_call_us(fn: Callable[[], Any], n: int) -> float:
    fn()
    started = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - started) / n * 1e6


async def per_await_us(fn: Callable[[], Awaitable[Any]], n: int) -> tuple[float, float]:
    """(process CPU µs, wall µs) per sequential call."""
    await fn()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        await fn()
    return (time.process_time() - cpu) / n * 1e6, (time.perf_counter() - wall) / n * 1e6


async def measure(container: Container, n: int) -> list[tuple[str, float, str]]:
    client = (await container.clients.list())[0]
    caller = Caller(client=client, ip="127.0.0.1")
    rows: list[tuple[str, float, str]] = []

    async def flow() -> None:
        email = f"component-{next(_addresses)}@example.com"
        sent = await container.flows.send(caller, SendCommand(email=email))
        await container.worker.join()  # delivery: render, dev mailbox insert, mark sent
        message = (await container.dev_mailbox.list(email, 1))[0]
        match = CODE.search(message.text)
        assert match is not None
        await container.flows.verify(caller, VerifyCommand(code=match.group(1), auth_request_id=sent.auth_request_id))

    cpu, wall = await per_await_us(flow, n)
    rows.append(("whole flow in the core: send + delivery + mailbox read + verify", cpu, f"wall {wall:.0f} µs"))

    db = container.db
    assert isinstance(db, SqliteDatabase)
    content = EmailContent(
        recipient="someone@example.com",
        template=TemplateType.SIGNIN,
        passwordless_type=PasswordlessType.OTP,
        code="123456",
        link=None,
        expires_at=time.time() + 300,
        lifetime_seconds=300,
    )
    rendered = container.renderer.render(content)

    def mailbox_row() -> DevMailboxMessage:
        return DevMailboxMessage(
            generate_prefixed_id("dmsg"), "other@example.com", rendered.subject, rendered.text, rendered.html, 0.0
        )

    cpu, wall = await per_await_us(lambda: container.dev_mailbox.add(mailbox_row()), n)
    rows.append(("write transaction via the writer thread (dev mailbox insert)", cpu, f"wall {wall:.0f} µs"))
    capture = _Capture()
    capturing_store = SqlDevMailboxStore(capture)  # type: ignore[arg-type]

    def direct_add() -> None:
        # the same statements, run on this thread: what the transaction costs without the hop
        _run_sync(capturing_store.add(mailbox_row()))
        db._run_transaction(capture.statements)

    rows.append(("same transaction run directly on the calling thread (no hop)", per_call_us(direct_add, n), ""))
    cpu, _ = await per_await_us(lambda: container.dev_mailbox.list("component-1@example.com", 1), n)
    rows.append(("read on the loop: dev mailbox list (to=<address with one mail>, limit=1)", cpu, ""))
    cpu, _ = await per_await_us(lambda: container.requests.get("no-such-request"), n)
    rows.append(("read on the loop: auth request by id (miss)", cpu, ""))
    rows.append(
        (
            "Jinja2: render subject + text + HTML (signin OTP)",
            per_call_us(lambda: container.renderer.render(content), n),
            "",
        )
    )
    rows.append(("email-validator: parse_email", per_call_us(lambda: parse_email("bench-1-123@example.com"), n), ""))
    rows.append(
        (
            "generate_prefixed_id (2 per flow)",
            per_call_us(lambda: generate_prefixed_id("msg"), n),
            "",
        )
    )
    rows.append(
        (
            "new credentials: request id + OTP + HMAC + AES-GCM seal",
            per_call_us(
                lambda: (
                    container.sealer.seal_credentials(
                        generate_request_id(),
                        container.flows._new_credentials(PasswordlessType.OTP),
                    )
                    or container.hasher.hash_code("r", generate_otp())
                ),
                n,
            ),
            "",
        )
    )
    rows.append(
        (
            "pydantic: SendRequestBody.model_validate",
            per_call_us(lambda: SendRequestBody.model_validate({"email": "a@b.co"}), n),
            "",
        )
    )
    return rows


async def run(n: int) -> list[tuple[str, float, str]]:
    home, workdir = Path.cwd(), Path(tempfile.mkdtemp(prefix="bench-components-"))
    os.chdir(workdir)
    settings = Settings(
        log_level="warning",
        access_log=False,
        send_per_ip_per_minute=UNLIMITED,
        send_per_client_per_minute=UNLIMITED,
        verify_per_ip_per_minute=UNLIMITED,
        verify_per_client_per_minute=UNLIMITED,
    )
    migrate(settings)
    container = build_container(settings)
    with contextlib.redirect_stdout(io.StringIO()):  # the first-client banner
        await container.start()
    try:
        rounds = [await measure(container, n) for _ in range(3)]  # the machine is noisy: median of 3
    finally:
        await container.stop()
        os.chdir(home)
        shutil.rmtree(workdir, ignore_errors=True)
    return [(name, statistics.median(r[i][1] for r in rounds), note) for i, (name, _, note) in enumerate(rounds[1])]


def to_markdown(rows: list[tuple[str, float, str]], n: int) -> str:
    lines = [
        f"`.venv/bin/python bench/components.py --n {n}` ({time.strftime('%Y-%m-%d %H:%M %Z')}): "
        "in-process, sequential, unloaded; process CPU (all threads) per call, median of 3 rounds.",
        "",
        "| component | CPU µs per call | note |",
        "|---|---:|---|",
    ]
    lines += [f"| {name} | {us:,.0f} | {note} |" for name, us, note in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="calls per component")
    parser.add_argument("--write-doc", action="store_true", help="rewrite the components table in the doc")
    args = parser.parse_args()
    text = to_markdown(uvloop.run(run(args.n)), args.n)
    print(text)
    if args.write_doc:
        # bench/ is on sys.path when this runs as a script
        from headless_flow import DOC, replace_block

        DOC.write_text(replace_block(DOC.read_text(), "components", text))


if __name__ == "__main__":
    main()
