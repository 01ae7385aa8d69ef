"""What only the Redis backend has: expiring, digested keys; failing closed; reconnecting by itself."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import redis

from keyless.core.ports import LimitHit, LimitRule
from keyless.errors import ServiceUnavailable
from keyless.ratelimit.redis import RedisRateLimiter
from tests.support.redis import REDIS_URL, PrivateRedis, drop_prefix, require_redis, unique_prefix

RULE = LimitRule("send:address:minute", 2, 60.0)


async def test_keys_are_prefixed_digested_and_expire_with_their_window() -> None:
    require_redis()
    prefix = unique_prefix()
    limiter = RedisRateLimiter.from_url(REDIS_URL, prefix=prefix)
    try:
        assert (await limiter.acquire([LimitHit(RULE, "alice@example.com")], time.time())).allowed
        client = redis.Redis.from_url(REDIS_URL)
        (key,) = list(client.scan_iter(match=prefix + "*"))
        assert key.startswith(f"{prefix}rl:send:address:minute:".encode())
        assert b"alice" not in key  # addresses are not written to Redis
        assert 0 < client.pttl(key) <= 60_000
        client.close()
    finally:
        await limiter.close()
        drop_prefix(prefix)


async def test_unreachable_redis_fails_closed_quickly_and_recovers_without_a_new_limiter(tmp_path: Path) -> None:
    with PrivateRedis(tmp_path) as server:
        limiter = RedisRateLimiter.from_url(server.url, timeout=0.5)
        hit = [LimitHit(RULE, "bob@example.com")]
        try:
            assert (await limiter.acquire(hit, 1000.0)).allowed
            server.stop()
            started = time.monotonic()
            with pytest.raises(ServiceUnavailable) as refused:
                await limiter.acquire(hit, 1001.0)
            assert refused.value.retry_after and time.monotonic() - started < 2
            await limiter.release(hit, 1000.0)  # a refund never raises, even now
            with pytest.raises(ServiceUnavailable):
                await limiter.ping()
            server.start()  # same port, empty: the windows start again
            assert (await limiter.acquire(hit, 1002.0)).allowed
            await limiter.ping()
        finally:
            await limiter.close()


async def test_a_redis_that_accepts_but_never_answers_cannot_hang_a_request() -> None:
    with socket.socket() as silent:  # the kernel completes the handshake; nobody ever replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        limiter = RedisRateLimiter.from_url(f"redis://127.0.0.1:{silent.getsockname()[1]}/0", timeout=0.3)
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            await limiter.acquire([LimitHit(RULE, "carol@example.com")], 1000.0)
        assert time.monotonic() - started < 2  # two tries of 0.3 s, not the default 5 s each
        await limiter.close()
