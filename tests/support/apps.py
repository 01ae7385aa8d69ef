"""The example applications in examples/, run as a person runs them: their own process, their own port."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class ExampleApp:
    def __init__(self, name: str, env_file: Path, url: str) -> None:
        self.script = EXAMPLES / name / "app.py"
        self.env_file = env_file
        self.url = url
        self.log_path = env_file.parent / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> ExampleApp:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(self.script), "--env-file", str(self.env_file)],
            cwd=self.env_file.parent,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.script} exited early:\n{self.output}")
            try:
                httpx.get(self.url, timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"{self.script} did not answer:\n{self.output}")

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> ExampleApp:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
