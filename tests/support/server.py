"""Run ``keyless`` as a user does: the console script in a subprocess, against a real socket."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

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


class ServerProcess:
    def __init__(self, workdir: Path, port: int | None = None, **settings: str) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings.setdefault("public_url", f"http://localhost:{self.port}")
        self.settings = {"port": str(self.port), **settings}
        self.log_path = workdir / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> ServerProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [KEYLESS, "serve"],
            cwd=self.workdir,
            env=keyless_env(self.workdir, **self.settings),
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"keyless exited early:\n{self.output}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1, verify=self.verify()).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"keyless did not become ready:\n{self.output}")

    def verify(self) -> ssl.SSLContext | bool:
        """How the readiness probe checks TLS; a subclass serving TLS trusts its own CA here."""
        return True

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
