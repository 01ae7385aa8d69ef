"""The example applications in examples/, run as a person runs them: their own process, their own port."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Self

import httpx

from tests.support.process import ChildProcess

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class ExampleApp(ChildProcess):
    def __init__(self, name: str, env_file: Path, url: str) -> None:
        self.name = name
        self.script = EXAMPLES / name / "app.py"
        self.env_file = env_file
        self.url = url
        super().__init__(env_file.parent / f"{name}.log")

    def start(self, timeout: float = 30) -> Self:
        self.launch([sys.executable, str(self.script), "--env-file", str(self.env_file)], cwd=self.env_file.parent)

        def answers() -> bool:
            httpx.get(self.url, timeout=1)
            return True

        self.wait_until(answers, timeout)
        return self
