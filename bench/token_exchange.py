"""Token endpoint benchmark: authorization-code exchanges (two RS256 signatures each).

    .venv/bin/python bench/token_exchange.py [--exchanges 2000] [--concurrency 16] [--reps 3] [--write-doc]

Starts ``keyless serve`` as a user does (bench/headless_flow.py's ``Server``), registers a client,
issues authorization codes for a signed-in session straight into the server's database (what the
hosted pages would have produced), then exchanges them over HTTP with bounded concurrency. Reports
exchanges/s and the server's CPU per exchange, next to the CPU of the two RS256 signatures alone
(an ID token and an access token, through the same JOSE library) measured in this process in the same
run: the target is the endpoint within 1.3x of its signatures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from joserfc import jwt
from joserfc.jwk import RSAKey

sys.path.insert(0, str(Path(__file__).parent))
from headless_flow import Conn, Server, percentile, replace_block
from keyless.container import build_container
from keyless.core.models import User
from keyless.oidc.issuer import CodeRequest
from keyless.settings import Settings

REDIRECT = "http://127.0.0.1:9/callback"
DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


async def seed_codes(server: Server, count: int) -> tuple[str, str, list[str]]:
    """A client, a user with a session, and ``count`` fresh codes, written to the server's database."""
    settings = Settings(data_dir=server.workdir / "keyless-data", public_url=f"http://127.0.0.1:{server.port}")
    container = build_container(settings)
    try:
        client, secret = await container.registry.register("bench", redirect_uris=[REDIRECT], magiclink_uris=[])
        now = container.clock.now()
        user = await container.users.record_login(
            User(
                id="usr_bench",
                email="bench@example.com",
                email_key="bench@example.com",
                email_verified=True,
                created_at=now,
            ),
            now,
        )
        session, _ = await container.signin.new_session(user, "otp")
        request = CodeRequest(client.id, REDIRECT, "openid email", None, None, False)
        codes = [await container.issuer.issue_code(request, session) for _ in range(count)]
    finally:
        await container.db.close()
    return client.id, secret, codes


async def exchange_all(server: Server, client: tuple[str, str], codes: list[str], concurrency: int) -> dict[str, Any]:
    conns = [await Conn.open(server.port) for _ in range(concurrency)]
    pending = list(codes)
    latencies: list[float] = []
    headers = b"Content-Type: application/x-www-form-urlencoded\r\n"
    prefix = (
        f"grant_type=authorization_code&redirect_uri={quote(REDIRECT, safe='')}"
        f"&client_id={quote(client[0])}&client_secret={quote(client[1])}&code="
    ).encode()

    async def worker(conn: Conn) -> None:
        while pending:
            code = pending.pop()
            started = time.perf_counter()
            status, body = await conn.request(b"POST", b"/oauth/token", prefix + code.encode(), headers)
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200 or b"id_token" not in body:
                raise RuntimeError(f"exchange failed: {status} {body[:200]!r}")

    cpu_before, wall_before = server.cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    cpu, wall = server.cpu_seconds() - cpu_before, time.perf_counter() - wall_before
    for conn in conns:
        conn.close()
    return {
        "exchanges": len(codes),
        "per_second": len(codes) / wall,
        "cpu_ms": cpu * 1000 / len(codes),
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
    }


def two_signatures_ms(iterations: int = 300) -> float:
    """CPU of signing an ID token and an access token like the server does (RSA-2048, joserfc)."""
    key = RSAKey.generate_key(2048, private=True)
    claims = {"iss": "http://127.0.0.1", "sub": "usr_1", "aud": ["skc_1"], "exp": 2_000_000_000, "iat": 1}
    started = time.process_time()
    for _ in range(iterations):
        jwt.encode({"alg": "RS256", "kid": "snk_1", "typ": "JWT"}, claims, key)
        jwt.encode({"alg": "RS256", "kid": "snk_1", "typ": "at+jwt"}, claims, key)
    return (time.process_time() - started) * 1000 / iterations


async def run(args: argparse.Namespace) -> dict[str, Any]:
    server = Server.start("keyless")
    try:
        client_id, secret, codes = await seed_codes(server, args.exchanges * (args.reps + 1))
        chunks = [codes[i * args.exchanges : (i + 1) * args.exchanges] for i in range(args.reps + 1)]
        await exchange_all(server, (client_id, secret), chunks[0], args.concurrency)  # warm-up
        runs = []
        for chunk in chunks[1:]:
            result = await exchange_all(server, (client_id, secret), chunk, args.concurrency)
            result["signatures_ms"] = two_signatures_ms()
            runs.append(result)
            print(
                f"c={args.concurrency} {result['exchanges']} exchanges {result['per_second']:.0f}/s "
                f"cpu {result['cpu_ms']:.3f} ms/exchange, two signatures {result['signatures_ms']:.3f} ms"
            )
    finally:
        server.stop()
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    median["ratio"] = statistics.median(r["cpu_ms"] / r["signatures_ms"] for r in runs)
    return {"concurrency": args.concurrency, "reps": args.reps, **median}


def table(report: dict[str, Any], command: str) -> str:
    verdict = "met" if report["ratio"] <= 1.3 else "not met"
    return (
        f"Generated by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; medians of "
        f"{report['reps']} runs of {int(report['exchanges'])} exchanges at concurrency {report['concurrency']}, "
        "after a warm-up run. Server CPU is the `keyless serve` process's user+system time (psutil); the "
        "signatures are measured in the benchmark process in the same run.\n\n"
        "| exchanges/s | server CPU ms/exchange | two RS256 signatures ms | ratio | p50 / p99 ms |\n"
        "|---:|---:|---:|---:|---:|\n"
        f"| {report['per_second']:.0f} | {report['cpu_ms']:.3f} | {report['signatures_ms']:.3f} | "
        f"{report['ratio']:.2f}x | {report['p50']:.1f} / {report['p99']:.1f} |\n\n"
        f"- Target: the endpoint's CPU per exchange within 1.3x of its two signatures: **{verdict}**."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exchanges", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--write-doc", action="store_true")
    args = parser.parse_args()
    report = asyncio.run(run(args))
    command = "python bench/token_exchange.py" + (" --write-doc" if args.write_doc else "")
    text = table(report, ".venv/bin/" + command)
    print(text)
    print(orjson.dumps(report).decode())
    if args.write_doc:
        doc = DOC.read_text()
        if "<!-- bench:token:start -->" not in doc:
            doc += "\n## Token endpoint: authorization-code exchange\n\n"
            doc += "<!-- bench:token:start -->\n<!-- bench:token:end -->\n"
        DOC.write_text(replace_block(doc, "token", text))


if __name__ == "__main__":
    main()
