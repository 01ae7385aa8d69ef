"""Periodic background jobs of one process (purging, reloading signing keys).

Every process runs the same jobs; the jobs themselves are safe to run concurrently in many
processes. A failing run (the database is down) is logged and retried at the next tick, so a job
never dies. The first run waits a random part of the interval, so processes started together do
not all hit the database in the same instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

log = logging.getLogger("keyless.background")


class Periodic:
    def __init__(self, name: str, interval: float, job: Callable[[], Awaitable[object]]) -> None:
        self.name = name
        self.interval = interval
        self._job = job
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        if self._task is None and self.interval > 0:
            self._stopping.clear()
            self._task = asyncio.create_task(self._loop(), name=f"keyless-{self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _loop(self) -> None:
        delay = random.uniform(0.1, 1.0) * self.interval  # spreads load; not a secret
        while not await self._sleep(delay):
            try:
                await self._job()
            except Exception as exc:  # keep the job alive through outages
                log.warning("background job %s failed: %s", self.name, type(exc).__name__)
            delay = self.interval

    async def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds``; True when stop() was called meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return self._stopping.is_set()
