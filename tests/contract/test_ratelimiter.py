"""The RateLimiter port's contract, run against every backend: in-memory and Redis (a real server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from keyless.core.ports import LimitHit, LimitRule, RateLimiter
from keyless.ratelimit.memory import InMemoryRateLimiter
from keyless.ratelimit.redis import RedisRateLimiter
from tests.support.redis import REDIS_URL, drop_prefix, require_redis, unique_prefix

NOW = 1_700_000_000.25
PER_MINUTE = LimitRule("send:address:minute", 2, 60.0)
PER_TEN = LimitRule("verify:address", 5, 600.0)


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield InMemoryRateLimiter()
        return
    require_redis()
    prefix = unique_prefix()
    backend = RedisRateLimiter.from_url(REDIS_URL, prefix=prefix)
    yield backend
    await backend.close()
    drop_prefix(prefix)


def hit(rule: LimitRule, key: str = "a@example.com") -> LimitHit:
    return LimitHit(rule, key)


async def test_admits_up_to_the_limit_then_denies_with_the_rule_and_wait(limiter: RateLimiter) -> None:
    assert (await limiter.acquire([hit(PER_MINUTE)], NOW)).allowed
    assert (await limiter.acquire([hit(PER_MINUTE)], NOW + 10)).allowed
    denied = await limiter.acquire([hit(PER_MINUTE)], NOW + 20)
    assert not denied.allowed and denied.rule == "send:address:minute"
    assert denied.retry_after == 40  # the first event leaves the window at NOW + 60


async def test_the_window_slides(limiter: RateLimiter) -> None:
    await limiter.acquire([hit(PER_MINUTE)], NOW)
    await limiter.acquire([hit(PER_MINUTE)], NOW + 30)
    assert not (await limiter.acquire([hit(PER_MINUTE)], NOW + 59.5)).allowed
    assert (await limiter.acquire([hit(PER_MINUTE)], NOW + 60)).allowed  # the first left the window
    denied = await limiter.acquire([hit(PER_MINUTE)], NOW + 61)
    assert not denied.allowed and denied.retry_after == 29


async def test_all_or_nothing_across_buckets(limiter: RateLimiter) -> None:
    ip = LimitRule("send:ip", 1, 60.0)
    assert (await limiter.acquire([hit(ip, "10.0.0.1")], NOW)).allowed
    denied = await limiter.acquire([hit(PER_MINUTE), hit(ip, "10.0.0.1")], NOW + 1)
    assert not denied.allowed and denied.rule == "send:ip" and denied.retry_after == 59
    # The address bucket was not charged by the refused call: two sends still fit.
    assert (await limiter.acquire([hit(PER_MINUTE)], NOW + 2)).allowed
    assert (await limiter.acquire([hit(PER_MINUTE)], NOW + 3)).allowed
    assert not (await limiter.acquire([hit(PER_MINUTE)], NOW + 4)).allowed


async def test_buckets_are_per_rule_and_per_key(limiter: RateLimiter) -> None:
    for _ in range(2):
        assert (await limiter.acquire([hit(PER_MINUTE, "a@example.com")], NOW)).allowed
    assert (await limiter.acquire([hit(PER_MINUTE, "b@example.com")], NOW)).allowed
    assert (await limiter.acquire([hit(LimitRule("send:address:day", 2, 86_400.0), "a@example.com")], NOW)).allowed


async def test_release_refunds_the_event_taken_at_that_moment(limiter: RateLimiter) -> None:
    hits = [hit(PER_MINUTE), hit(PER_TEN)]
    assert (await limiter.acquire(hits, NOW)).allowed
    assert (await limiter.acquire(hits, NOW + 1)).allowed
    await limiter.release(hits, NOW + 1)
    assert (await limiter.acquire([hit(PER_MINUTE)], NOW + 2)).allowed
    denied = await limiter.acquire([hit(PER_MINUTE)], NOW + 3)
    assert denied.retry_after == 57  # the event at NOW stayed; the one at NOW + 1 went


async def test_release_without_a_matching_event_changes_nothing(limiter: RateLimiter) -> None:
    await limiter.acquire([hit(PER_MINUTE)], NOW)
    await limiter.acquire([hit(PER_MINUTE)], NOW + 1)
    await limiter.release([hit(PER_MINUTE)], NOW + 5)
    await limiter.release([hit(PER_MINUTE, "nobody@example.com")], NOW + 1)
    assert not (await limiter.acquire([hit(PER_MINUTE)], NOW + 6)).allowed


async def test_concurrent_callers_never_exceed_the_limit(limiter: RateLimiter) -> None:
    rule = LimitRule("verify:address", 5, 600.0)
    decisions = await asyncio.gather(
        *(
            limiter.acquire([hit(rule), hit(LimitRule("verify:ip", 1000, 60.0), "ip")], NOW + i / 1000)
            for i in range(50)
        )
    )
    assert sum(d.allowed for d in decisions) == 5
    assert all(d.rule == "verify:address" for d in decisions if not d.allowed)


async def test_an_empty_hit_list_is_admitted(limiter: RateLimiter) -> None:
    assert (await limiter.acquire([], NOW)).allowed
    await limiter.release([], NOW)


async def test_retry_after_never_exceeds_the_window(limiter: RateLimiter) -> None:
    # Another process may stamp an event a moment "after" this caller's clock.
    rule = LimitRule("skew", 1, 60.0)
    hit = LimitHit(rule, "k")
    assert (await limiter.acquire([hit], 1_000.5)).allowed
    denied = await limiter.acquire([hit], 1_000.0)
    assert not denied.allowed and 1 <= denied.retry_after <= 60
