"""Run ``keyless`` as a user does: the console script in a subprocess, against a real socket."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Self

import httpx

from tests.support.process import ChildProcess
from tests.support.smtp import free_port

KEYLESS = str(Path(sys.executable).with_name("keyless"))


def keyless_env(workdir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYLESS_")}
    env.update({f"KEYLESS_{k.upper()}": v for k, v in settings.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(workdir: Path, *args: str, timeout: float = 60, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEYLESS, *args],
        cwd=workdir,
        env=keyless_env(workdir, **settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class ServerProcess(ChildProcess):
    name = "keyless"

    def __init__(self, workdir: Path, port: int | None = None, **settings: str) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings.setdefault("public_url", f"http://localhost:{self.port}")
        self.settings = {"port": str(self.port), **settings}
        super().__init__(workdir / f"server-{self.port}.log")

    def start(self, timeout: float = 30) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.launch([KEYLESS, "serve"], cwd=self.workdir, env=keyless_env(self.workdir, **self.settings))
        self.wait_until(
            lambda: httpx.get(f"{self.url}/health/ready", timeout=1, verify=self.verify()).status_code == 200,
            timeout,
        )
        return self

    def verify(self) -> ssl.SSLContext | bool:
        """How the readiness probe checks TLS; a subclass serving TLS trusts its own CA here."""
        return True
