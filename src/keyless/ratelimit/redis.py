"""Redis sliding-window limiter: the same exact semantics as the in-memory one, shared by every process.

Each bucket is a sorted set of event timestamps (score = the caller's ``now``, member = a unique id),
so the window slides exactly and a refund removes the very event it took. One Lua script checks every
bucket and records the event in all of them or in none, atomically on the server: two processes can
never both take the last slot. Keys carry a configurable prefix and expire one window after their
newest event, so idle buckets cost nothing.

Fail closed: when Redis cannot be reached within a short timeout, ``acquire`` raises
``ServiceUnavailable`` (503 with ``Retry-After``) rather than admitting unlimited guesses or sends.
redis-py reconnects by itself on the next call, so service resumes without a restart.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import time
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from keyless.core.ports import LimitDecision, LimitHit
from keyless.errors import ServiceUnavailable

log = logging.getLogger("keyless.ratelimit")

# KEYS: one per bucket. ARGV: now, member, then (limit, window) per bucket.
# Returns {1, "0", 0} when admitted, else {0, seconds until the denying bucket frees a slot, its index}.
_ACQUIRE = """
local now = tonumber(ARGV[1])
for i = 1, #KEYS do
  local limit = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZCARD', KEYS[i]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    return {0, tostring(tonumber(oldest[2]) + window - now), i}
  end
end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[i], math.ceil(tonumber(ARGV[2 + 2 * i]) * 1000))
end
return {1, '0', 0}
"""

# KEYS: buckets. ARGV: now. Removes one event recorded at exactly ``now`` from each bucket.
_RELEASE = """
for i = 1, #KEYS do
  local found = redis.call('ZRANGEBYSCORE', KEYS[i], ARGV[1], ARGV[1], 'LIMIT', 0, 1)
  if found[1] then redis.call('ZREM', KEYS[i], found[1]) end
end
return 0
"""

UNAVAILABLE_RETRY_AFTER = 2  # seconds: what a 503 tells the caller to wait


class RedisRateLimiter:
    def __init__(self, client: Redis, *, prefix: str = "keyless:") -> None:
        self._redis = client
        self._prefix = prefix + "rl:"
        # register_script sends EVALSHA and reloads the script after a Redis restart (NOSCRIPT).
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        self._outage_logged_at = 0.0

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "keyless:", timeout: float = 0.5) -> RedisRateLimiter:
        client = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # One quick retry covers a pooled connection that died with a Redis restart; more would
            # only hold requests longer while Redis is down.
            retry=Retry(NoBackoff(), 1),
            health_check_interval=30,
        )
        return cls(client, prefix=prefix)

    async def acquire(self, hits: Sequence[LimitHit], now: float) -> LimitDecision:
        if not hits:
            return LimitDecision(True)
        args: list[str | int | float] = [repr(now), f"{now!r}:{secrets.token_hex(8)}"]
        for hit in hits:
            args.extend((hit.rule.limit, repr(hit.rule.window)))
        try:
            allowed, retry, index = await self._acquire(keys=self._keys(hits), args=args)
        except (RedisError, OSError) as exc:
            self._note_outage(exc)
            raise ServiceUnavailable(retry_after=UNAVAILABLE_RETRY_AFTER) from exc
        if int(allowed) == 1:
            return LimitDecision(True)
        rule = hits[int(index) - 1].rule
        # Processes stamp events with their own clocks: an event recorded a moment "later" by another
        # process must not stretch the wait past one window.
        wait = min(math.ceil(float(retry)), math.ceil(rule.window))
        return LimitDecision(False, max(1, wait), rule.name)

    async def release(self, hits: Sequence[LimitHit], now: float) -> None:
        # A refund runs after the work it refunds has happened: never turn that into an error. A lost
        # refund only leaves the limit stricter until the window passes.
        if not hits:
            return
        try:
            await self._release(keys=self._keys(hits), args=[repr(now)])
        except (RedisError, OSError) as exc:
            self._note_outage(exc)

    async def ping(self) -> None:
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            self._note_outage(exc)
            raise ServiceUnavailable(retry_after=UNAVAILABLE_RETRY_AFTER) from exc

    async def close(self) -> None:
        await self._redis.aclose()

    def _keys(self, hits: Sequence[LimitHit]) -> list[str]:
        # Bucket keys name addresses and IPs: keep only a digest of them in Redis.
        return [f"{self._prefix}{hit.rule.name}:{_digest(hit.key)}" for hit in hits]

    def _note_outage(self, exc: BaseException) -> None:
        moment = time.monotonic()  # log throttling only; not a business timestamp
        if moment - self._outage_logged_at >= 10:
            self._outage_logged_at = moment
            log.error("rate limiter unavailable (Redis): %s; limited calls answer 503", type(exc).__name__)


def _digest(key: str) -> str:
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
