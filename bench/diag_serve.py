"""Bench-only launcher: runs ``keyless serve`` (the same CLI entry point, in this process) plus probes.

Used by ``bench/headless_flow.py --diag``; never by the headline figures. The server's source is not
changed: the probes wrap methods at start-up.

- ``BENCH_DIAG_OUT=<file>``: on SIGUSR1, write probe statistics since the previous SIGUSR1 to the file
  (JSON) and start afresh. Probes: each SQLite write transaction as the event loop sees it (submit to
  result) and inside the writer thread (wall and thread CPU time), reads, and the outbox: dispatch to
  consumer start, dispatch to the message being in the dev mailbox.
- ``BENCH_SWITCH_INTERVAL=<seconds>``: ``sys.setswitchinterval`` (the GIL hand-over interval; 0.005 default).
- ``BENCH_OUTBOX_CONCURRENCY=<n>``: the outbox worker's concurrency (4 by default), for what-if runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from keyless.cli.main import app as cli
from keyless.mail.devmailbox import DevMailboxMailer
from keyless.mail.outbox import OutboxWorker
from keyless.storage.database import Row, Stmt
from keyless.storage.sqlite import SqliteDatabase

probes: dict[str, list[float]] = {}
_dispatched: dict[str, float] = {}


def record(name: str, value: float) -> None:
    probes.setdefault(name, []).append(value * 1000)


def stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))], 3)

    return {"n": len(ordered), "mean": round(sum(ordered) / len(ordered), 3), "p50": pct(50), "p99": pct(99)}


def dump(out: Path) -> Callable[[int, FrameType | None], None]:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        out.write_text(json.dumps({name: stats(v) for name, v in sorted(list(probes.items())) if v}, indent=2))
        probes.clear()

    return handler


def install_probes() -> None:
    run_transaction, read = SqliteDatabase._run_transaction, SqliteDatabase._read
    dispatch, deliver, mail_send = OutboxWorker.dispatch, OutboxWorker._deliver, DevMailboxMailer.send
    start_worker = OutboxWorker.start

    async def loop_lag() -> None:
        while True:  # how late a 5 ms timer fires: the event loop's responsiveness
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            record("event_loop_lag_ms", time.perf_counter() - before - 0.005)

    async def start_with_lag_probe(self: OutboxWorker) -> None:
        await start_worker(self)
        self._lag_probe = asyncio.create_task(loop_lag())  # type: ignore[attr-defined]

    async def timed_transaction(self: SqliteDatabase, statements: Sequence[Stmt]) -> list[list[Row]] | None:
        # SqliteDatabase.transaction's one line, with time stamps on both sides of the hop.
        marks: list[float] = []

        def run() -> list[list[Row]] | None:
            marks.append(time.perf_counter())
            try:
                return self._run_transaction(list(statements))
            finally:
                marks.append(time.perf_counter())

        submitted = time.perf_counter()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._writer_pool, run)
        finally:
            resumed = time.perf_counter()
            record("write_tx_as_seen_by_loop_ms", resumed - submitted)
            if len(marks) == 2:
                record("write_tx_hop_submit_to_thread_start_ms", marks[0] - submitted)
                record("write_tx_hop_thread_end_to_loop_resume_ms", resumed - marks[1])

    def timed_run(self: SqliteDatabase, statements: list[Stmt]) -> list[list[Row]] | None:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return run_transaction(self, statements)
        finally:
            record("write_tx_in_writer_thread_wall_ms", time.perf_counter() - started)
            record("write_tx_in_writer_thread_cpu_ms", time.thread_time() - cpu)

    def timed_read(self: SqliteDatabase, sql: str, params: Any) -> list[Row]:
        started = time.perf_counter()
        try:
            return read(self, sql, params)
        finally:
            record("read_on_loop_ms", time.perf_counter() - started)

    def timed_dispatch(self: OutboxWorker, message: Any, content: Any) -> None:
        _dispatched[message.auth_request_id] = time.perf_counter()
        dispatch(self, message, content)

    async def timed_deliver(self: OutboxWorker, job: Any) -> None:
        at = _dispatched.get(job.message.auth_request_id)
        if at is not None:
            record("outbox_dispatch_to_consumer_start_ms", time.perf_counter() - at)
        await deliver(self, job)

    async def timed_mail_send(self: DevMailboxMailer, email: Any, *, auth_request_id: str | None = None) -> None:
        await mail_send(self, email, auth_request_id=auth_request_id)
        at = _dispatched.pop(auth_request_id or "", None)
        if at is not None:
            record("outbox_dispatch_to_in_mailbox_ms", time.perf_counter() - at)

    SqliteDatabase.transaction = timed_transaction  # type: ignore[method-assign]
    SqliteDatabase._run_transaction = timed_run  # type: ignore[method-assign]
    SqliteDatabase._read = timed_read  # type: ignore[method-assign]
    OutboxWorker.dispatch = timed_dispatch  # type: ignore[method-assign]
    OutboxWorker._deliver = timed_deliver  # type: ignore[method-assign]
    DevMailboxMailer.send = timed_mail_send  # type: ignore[method-assign]
    OutboxWorker.start = start_with_lag_probe  # type: ignore[method-assign]


def main() -> None:
    if os.environ.get("BENCH_SWITCH_INTERVAL"):
        sys.setswitchinterval(float(os.environ["BENCH_SWITCH_INTERVAL"]))
    if os.environ.get("BENCH_OUTBOX_CONCURRENCY"):
        concurrency, init = int(os.environ["BENCH_OUTBOX_CONCURRENCY"]), OutboxWorker.__init__

        def init_with(self: OutboxWorker, **kwargs: Any) -> None:
            init(self, **{**kwargs, "concurrency": concurrency})

        OutboxWorker.__init__ = init_with  # type: ignore[method-assign]
    if os.environ.get("BENCH_DIAG_OUT"):
        install_probes()
        signal.signal(signal.SIGUSR1, dump(Path(os.environ["BENCH_DIAG_OUT"])))
    # Exactly what the ``keyless serve`` console script runs, in this (probed) process.
    cli(["serve"])


if __name__ == "__main__":
    main()
