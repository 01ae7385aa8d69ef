"""In-memory sliding-window limiter: exact, per process. The embedded default.

Each bucket keeps the timestamps of its recent events (at most ``limit`` of them), so memory is
bounded by the number of active keys; idle buckets are swept periodically.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

from keyless.core.ports import LimitDecision, LimitHit


class InMemoryRateLimiter:
    def __init__(self, sweep_every: int = 10_000) -> None:
        self._buckets: dict[str, deque[float]] = {}
        self._windows: dict[str, float] = {}
        self._ops = 0
        self._sweep_every = sweep_every

    async def acquire(self, hits: Sequence[LimitHit], now: float) -> LimitDecision:
        # No awaits in here: on one event loop this block is atomic.
        self._maybe_sweep(now)
        for hit in hits:
            events = self._prune(hit, now)
            if len(events) >= hit.rule.limit:
                retry = events[0] + hit.rule.window - now
                return LimitDecision(False, max(1, min(math.ceil(retry), math.ceil(hit.rule.window))), hit.rule.name)
        for hit in hits:
            self._buckets.setdefault(hit.bucket, deque()).append(now)
            self._windows[hit.bucket] = hit.rule.window
        return LimitDecision(True)

    async def release(self, hits: Sequence[LimitHit], now: float) -> None:
        # Take back the event recorded at ``now`` (the refunded acquire's), as the Redis backend does.
        for hit in hits:
            events = self._buckets.get(hit.bucket)
            if not events:
                continue
            for i in range(len(events) - 1, -1, -1):
                if events[i] == now:
                    del events[i]
                    break

    def _prune(self, hit: LimitHit, now: float) -> deque[float]:
        events = self._buckets.get(hit.bucket)
        if events is None:
            return deque()
        horizon = now - hit.rule.window
        while events and events[0] <= horizon:
            events.popleft()
        return events

    def _maybe_sweep(self, now: float) -> None:
        self._ops += 1
        if self._ops % self._sweep_every:
            return
        for bucket in list(self._buckets):
            events = self._buckets[bucket]
            if not events or events[-1] <= now - self._windows.get(bucket, 0.0):
                del self._buckets[bucket]
                self._windows.pop(bucket, None)
