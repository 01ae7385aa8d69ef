"""Several real ``keyless serve`` processes on one PostgreSQL schema and one Redis, as in production.

Each cluster gets a fresh PostgreSQL schema and a unique Redis key prefix, shares one set of secrets
(HMAC and encryption keys) and one public URL (the issuer every process signs with), and sends mail
to a real SMTP sink. The first process creates the signing key and the first client; the others
find them in the database.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiosmtpd.controller import Controller

from keyless.container import build_container
from keyless.keymaterial import new_key
from keyless.settings import Settings
from tests.support.databases import PG_DSN, drop_pg_schema, new_pg_schema
from tests.support.redis import REDIS_URL, drop_prefix, require_redis, unique_prefix
from tests.support.server import ServerProcess
from tests.support.smtp import SmtpSink, _Handler, free_port

MAGICLINK_URI = "http://localhost:3000/passwordless/verify"
REDIRECT_URI = "http://localhost:3000/auth/callback"
HIGH = "100000"
T = TypeVar("T")


def cluster_settings(smtp: SmtpSink, public_url: str, **overrides: str) -> dict[str, str]:
    """Settings every process of one cluster shares (without the database schema)."""
    settings = {
        "database_url": PG_DSN,
        "redis_url": REDIS_URL,
        "redis_key_prefix": unique_prefix(),
        "credential_hmac_keys": json.dumps([new_key()]),
        "encryption_keys": json.dumps([new_key()]),
        "public_url": public_url,
        "passwordless_type": "LINK_OTP",
        "mail_backend": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": str(smtp.port),
        "smtp_security": "none",
        "smtp_timeout_seconds": "1",
        "access_log": "false",
        # Every request of a test comes from 127.0.0.1 with one client: per-IP and per-client ceilings
        # would only get in the way of the per-address and per-request rules under test.
        "send_per_ip_per_minute": HIGH,
        "send_per_client_per_minute": HIGH,
        "verify_per_ip_per_minute": HIGH,
        "verify_per_client_per_minute": HIGH,
        "token_per_ip_per_minute": HIGH,
        "key_refresh_seconds": "2",
    }
    settings.update(overrides)
    return settings


@dataclass
class Cluster:
    workdir: Path
    settings: dict[str, str]
    processes: list[ServerProcess] = field(default_factory=list)
    client_id: str = ""
    client_secret: str = ""
    # How a process is made: ``ServerProcess``, or a subclass that serves TLS and probes it so.
    server: Callable[..., ServerProcess] = ServerProcess

    def start(self, count: int = 2) -> Cluster:
        # As an operator would before scaling out: the signing key and the application exist first
        # (``keyless clients create``), so processes starting together find them instead of racing.
        self.client_id, self.client_secret = run_sync(lambda: seed(self.settings))
        with ThreadPoolExecutor(count) as pool:
            self.processes = list(pool.map(self._start, [f"p{i}" for i in range(count)]))
        return self

    def _start(self, name: str) -> ServerProcess:
        return self.server(self.workdir / name, **self.settings).start(timeout=60)

    def add(self) -> ServerProcess:
        """One more process joining the running cluster."""
        process = self._start(f"p{len(self.processes)}")
        self.processes.append(process)
        return process

    @property
    def urls(self) -> list[str]:
        return [p.url for p in self.processes if p.process is not None and p.process.poll() is None]

    def kill(self, index: int) -> None:
        """kill -9: no shutdown, no drain, leases left behind."""
        process = self.processes[index].process
        assert process is not None
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in self.processes:
            process.stop()

    def token(self, base: str | None = None) -> dict[str, str]:
        response = httpx.post(
            f"{base or self.urls[0]}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(self.client_id, self.client_secret),
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def output(self) -> str:
        return "\n".join(f"--- {p.log_path.name}\n{p.output[-4000:]}" for p in self.processes)


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, also when called inside a running event loop
    (an async test): then on a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


async def seed(settings: dict[str, str]) -> tuple[str, str]:
    """Migrate, create the signing key and register the application the tests use."""
    typed = {k: json.loads(v) if v.startswith("[") else v for k, v in settings.items()}
    container = build_container(Settings(**typed))
    try:
        await container.keyring.ensure_key(container.clock.now())
        client, secret = await container.registry.register(
            "cluster app", redirect_uris=[REDIRECT_URI], magiclink_uris=[MAGICLINK_URI]
        )
        return client.id, secret
    finally:
        await container.stop()


@contextmanager
def running_cluster(
    workdir: Path,
    smtp: SmtpSink,
    count: int = 2,
    public_url: str | None = None,
    server: Callable[..., ServerProcess] = ServerProcess,
    **overrides: str,
) -> Iterator[Cluster]:
    """A started cluster on a fresh schema and Redis prefix, torn down (schema and keys dropped) after."""
    require_redis(overrides.get("redis_url", REDIS_URL))
    schema = new_pg_schema()
    settings = cluster_settings(smtp, public_url or f"http://localhost:{free_port()}", **overrides)
    settings["database_schema"] = schema
    cluster = Cluster(workdir, settings, server=server)
    try:
        yield cluster.start(count)
    finally:
        cluster.stop()
        run_sync(lambda: drop_pg_schema(schema))
        if "redis_url" not in overrides:
            drop_prefix(settings["redis_key_prefix"])


async def gather_posts(requests: list[tuple[str, dict[str, Any]]]) -> list[httpx.Response]:
    """Fire all requests at once (one connection each), so they really race on the servers."""
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=len(requests) + 1)) as client:
        start = asyncio.Event()

        async def one(url: str, kwargs: dict[str, Any]) -> httpx.Response:
            await start.wait()
            return await client.post(url, **kwargs)

        tasks = [asyncio.create_task(one(url, kwargs)) for url, kwargs in requests]
        await asyncio.sleep(0.05)
        start.set()
        return list(await asyncio.gather(*tasks))


def wait_until(predicate: Any, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(message)


class _StallingHandler(_Handler):
    """Holds the first delivery attempt to chosen recipients at RCPT (before any message data), as a
    mail server that hangs would; later attempts go through."""

    def __init__(self) -> None:
        super().__init__()
        self.stall: dict[str, float] = {}
        self.stalled: list[str] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        seconds = self.stall.pop(address, None)
        if seconds is not None:
            self.stalled.append(address)
            await asyncio.sleep(seconds)
        return await super().handle_RCPT(server, session, envelope, address, options)


class StallingSmtpSink(SmtpSink):
    def __init__(self) -> None:
        super().__init__()
        self.handler = _StallingHandler()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def stall_first(self, address: str, seconds: float) -> None:
        assert isinstance(self.handler, _StallingHandler)
        self.handler.stall[address] = seconds

    def stalled(self, address: str) -> bool:
        assert isinstance(self.handler, _StallingHandler)
        return address in self.handler.stalled
