"""The official Scalekit SDKs as test clients, and keyless served the way they need it.

``SdkDriver`` runs ``tests/sdk/python/driver.py`` (scalekit-sdk-python) or ``tests/sdk/node/driver.mjs``
(@scalekit-sdk/node) in a subprocess and makes one SDK call per ``call``. Both are installed by
``make sdk-deps`` (pinned in pyproject's dev extra and tests/sdk/node/package-lock.json).
``TlsServer`` is ``keyless serve`` with the development TLS option, which the Python SDK requires.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
PYTHON_DRIVER = ROOT / "tests" / "sdk" / "python" / "driver.py"
NODE_DIR = ROOT / "tests" / "sdk" / "node"
NODE_DRIVER = NODE_DIR / "driver.mjs"
CALL_TIMEOUT = 60.0  # an SDK call retries with back-off on UNAVAILABLE; none should take this long


class TlsServer(ServerProcess):
    """``keyless serve`` with ``dev_tls``: https://localhost:<port>, certificate from a local CA."""

    def __init__(self, workdir: Path, **settings: str) -> None:
        port = settings.pop("port", None)
        super().__init__(workdir, int(port) if port else None, dev_tls="true", **settings)
        self.url = f"https://localhost:{self.port}"
        self.settings.setdefault("public_url", self.url)
        if self.settings["public_url"].startswith("http://"):
            self.settings["public_url"] = self.url

    @property
    def ca_file(self) -> Path:
        return self.workdir / "keyless-data" / "tls" / "ca.pem"

    def verify(self) -> ssl.SSLContext | bool:
        if not self.ca_file.exists():
            return True  # not made yet: the probe fails and is retried
        return ssl.create_default_context(cafile=str(self.ca_file))

    def trust_env(self) -> dict[str, str]:
        """The variables ``keyless serve --dev-tls`` prints, as a developer would export them."""
        ca = str(self.ca_file)
        return {"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": ca, "REQUESTS_CA_BUNDLE": ca, "NODE_EXTRA_CA_CERTS": ca}


@dataclass
class Keyless:
    """A running keyless and the application registered on it, as an SDK user configures them."""

    server: ServerProcess
    client_id: str
    client_secret: str
    callback: str

    @property
    def env_url(self) -> str:
        """What goes where Scalekit's environment URL went: the bare origin."""
        return self.server.url.replace("127.0.0.1", "localhost")

    def trust_env(self) -> dict[str, str]:
        return self.server.trust_env() if isinstance(self.server, TlsServer) else {}


class SdkError(AssertionError):
    pass


class SdkDriver:
    def __init__(self, kind: str, env: dict[str, str] | None = None) -> None:
        self.kind = kind
        self.extra_env = env or {}
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> SdkDriver:
        if self.kind == "python":
            argv = [sys.executable, str(PYTHON_DRIVER)]
        else:
            if not (NODE_DIR / "node_modules" / "@scalekit-sdk" / "node").is_dir():
                pytest.fail("@scalekit-sdk/node is not installed: run `make sdk-deps`", pytrace=False)
            argv = ["node", str(NODE_DRIVER)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEYLESS_")}
        env.update(self.extra_env)
        self.process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=NODE_DIR if self.kind == "node" else ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return self

    async def reply(self, op: str, **args: Any) -> dict[str, Any]:
        """The driver's answer: ``{"result": ...}`` or ``{"error": {...}}``."""
        proc = self.process
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        proc.stdin.write((json.dumps({"op": op, "args": args}) + "\n").encode())
        await proc.stdin.drain()
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), CALL_TIMEOUT)
        except TimeoutError:
            raise SdkError(f"{self.kind} SDK: {op} did not answer in {CALL_TIMEOUT}s") from None
        if not line:
            stderr = await proc.stderr.read() if proc.stderr else b""
            raise SdkError(f"{self.kind} SDK driver exited during {op}:\n{stderr.decode(errors='replace')[-4000:]}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def call(self, op: str, **args: Any) -> Any:
        answer = await self.reply(op, **args)
        if "error" in answer:
            raise SdkError(f"{self.kind} SDK: {op} raised {answer['error']}")
        return answer["result"]

    async def fails(self, op: str, **args: Any) -> dict[str, Any]:
        answer = await self.reply(op, **args)
        assert "error" in answer, f"{self.kind} SDK: {op} was expected to raise, returned {answer}"
        error: dict[str, Any] = answer["error"]
        return error

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
