"""Which Redis limiter: keyless's Lua script or the ``limits`` library? Client CPU and throughput.

    .venv/bin/python bench/ratelimit_redis.py [--checks 4000] [--tasks 16]

One "check" is what a send asks of the limiter: four buckets (address/minute, address/day, IP,
client) admitted all together or not at all. The Lua backend does that in one round trip, atomically.
``limits`` (MovingWindowRateLimiter, redis-py implementation) has no multi-bucket operation, so the
closest it gets is one ``hit`` per bucket: four round trips, and not all-or-nothing (a refused fourth
bucket leaves the first three charged). It also reads its own clock rather than an injected one.
Needs the Redis server on 127.0.0.1:6379 (or KEYLESS_TEST_REDIS_URL); the ``limits`` package is
optional (``pip install limits``) and is measured only when present.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from collections.abc import Awaitable, Callable

import psutil
import redis

from keyless.core.ports import LimitHit, LimitRule
from keyless.ratelimit.redis import RedisRateLimiter

URL = os.environ.get("KEYLESS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BIG = 10**9
RULES = [
    LimitRule("send:address:minute", BIG, 60.0),
    LimitRule("send:address:day", BIG, 86_400.0),
    LimitRule("send:ip", BIG, 60.0),
    LimitRule("send:client", BIG, 60.0),
]


async def run(name: str, check: Callable[[int], Awaitable[bool]], checks: int, tasks: int) -> dict[str, float]:
    for i in range(200):  # warm up connections and script caches
        await check(i)
    me = psutil.Process()
    cpu0, t0 = me.cpu_times(), time.perf_counter()
    per_task = checks // tasks

    async def worker(w: int) -> None:
        for i in range(per_task):
            await check(w * per_task + i)

    await asyncio.gather(*(worker(w) for w in range(tasks)))
    elapsed = time.perf_counter() - t0
    cpu1 = me.cpu_times()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    done = per_task * tasks
    result = {"checks_per_s": done / elapsed, "client_cpu_ms_per_check": cpu * 1000 / done}
    print(f"{name:<32} {result['checks_per_s']:>9,.0f} checks/s  {result['client_cpu_ms_per_check']:.3f} ms CPU/check")
    return result


async def main(args: argparse.Namespace) -> None:
    prefix = f"bench-{secrets.token_hex(4)}:"
    lua = RedisRateLimiter.from_url(URL, prefix=prefix)

    async def lua_check(i: int) -> bool:
        hits = [LimitHit(rule, f"user{i % 500}@example.com") for rule in RULES]
        return (await lua.acquire(hits, time.time())).allowed

    await run("lua script (1 round trip, atomic)", lua_check, args.checks, args.tasks)
    await lua.close()
    try:
        from limits import RateLimitItemPerDay, RateLimitItemPerMinute
        from limits.aio.storage import RedisStorage
        from limits.aio.strategies import MovingWindowRateLimiter
    except ImportError:
        print("limits is not installed: pip install limits to compare")
    else:
        storage = RedisStorage(URL.replace("redis://", "async+redis://"), implementation="redispy", key_prefix=prefix)
        limiter = MovingWindowRateLimiter(storage)
        items = [RateLimitItemPerMinute(BIG), RateLimitItemPerDay(BIG), RateLimitItemPerMinute(BIG)]
        items.append(RateLimitItemPerMinute(BIG))

        async def limits_check(i: int) -> bool:
            ok = True
            for n, item in enumerate(items):
                ok = await limiter.hit(item, f"r{n}", f"user{i % 500}@example.com") and ok
            return ok

        await run("limits moving window (4 hits)", limits_check, args.checks, args.tasks)
    client = redis.Redis.from_url(URL)
    keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", type=int, default=4000)
    parser.add_argument("--tasks", type=int, default=16)
    asyncio.run(main(parser.parse_args()))
