"""Scale-out benchmark: the headless flow on PostgreSQL + Redis with one and with two keyless processes.

    .venv/bin/python bench/scale_out.py [--processes 1 --processes 2] [--concurrency 64] [--duration 10]
                                         [--reps 3] [--write-doc]

The same flow, client and measurements as ``bench/headless_flow.py`` (imported from there): send →
read the code from the dev mailbox → verify, a fresh address per flow, one keep-alive connection per
concurrent flow. Here the processes share one PostgreSQL schema (fresh per run, on the server in
KEYLESS_TEST_POSTGRES_DSN or 127.0.0.1:5432) and one Redis (KEYLESS_TEST_REDIS_URL or
127.0.0.1:6379, a fresh key prefix per run); connections are spread evenly over the processes, so a
flow's requests usually meet more than one process. Reported per configuration (medians of
``--reps``): flows/s, keyless CPU per flow (all keyless processes, user+system), and the CPU the
PostgreSQL and Redis servers spent per flow over the same window (whole servers: other work on the
machine counts too). ``--write-doc`` rewrites the scale-out section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import redis
import uvloop

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from headless_flow import (  # noqa: E402 - the shared flow driver, found next to this file
    BIN,
    DOC,
    RESULTS,
    ROOT,
    UNLIMITED,
    Conn,
    Poller,
    Samples,
    Server,
    drive,
    free_port,
    machine_facts,
    percentile,
    replace_block,
    until,
)

PG_DSN = os.environ.get("KEYLESS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("KEYLESS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SECTION = "scale-out"


def new_key() -> str:
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


class Deployment:
    """N keyless processes on one fresh schema and Redis prefix, with shared secrets and issuer."""

    def __init__(self, processes: int) -> None:
        self.schema = "bench_" + secrets.token_hex(4)
        self.prefix = f"bench-{secrets.token_hex(4)}:"
        self.workdir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
        self.public_url = f"http://127.0.0.1:{free_port()}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KEYLESS_")} | {
            "KEYLESS_HOST": "127.0.0.1",
            "KEYLESS_PUBLIC_URL": self.public_url,
            "KEYLESS_DATABASE_URL": PG_DSN,
            "KEYLESS_DATABASE_SCHEMA": self.schema,
            "KEYLESS_REDIS_URL": REDIS_URL,
            "KEYLESS_REDIS_KEY_PREFIX": self.prefix,
            "KEYLESS_CREDENTIAL_HMAC_KEYS": json.dumps([new_key()]),
            "KEYLESS_ENCRYPTION_KEYS": json.dumps([new_key()]),
            "KEYLESS_ACCESS_LOG": "false",
            "KEYLESS_LOG_LEVEL": "warning",
            **{
                f"KEYLESS_{limit}": UNLIMITED
                for limit in (
                    "SEND_PER_IP_PER_MINUTE",
                    "SEND_PER_CLIENT_PER_MINUTE",
                    "VERIFY_PER_IP_PER_MINUTE",
                    "VERIFY_PER_CLIENT_PER_MINUTE",
                    "TOKEN_PER_IP_PER_MINUTE",
                )
            },
        }
        self.servers: list[Server] = []
        try:
            # The first process creates the signing key and the first client; the others find them.
            for i in range(processes):
                self.servers.append(self._start(i))
        except BaseException:
            self.stop()
            raise
        first = json.loads((self.servers[0].workdir / "keyless-data" / "first-client.json").read_text())
        for server in self.servers:
            server.client_id, server.client_secret = first["client_id"], first["client_secret"]

    def _start(self, index: int) -> Server:
        port = free_port()
        workdir = self.workdir / f"p{index}"
        workdir.mkdir()
        keyless = BIN / "keyless"
        argv = [str(keyless if keyless.exists() else shutil.which("keyless") or "keyless"), "serve"]
        log = (workdir / "server.log").open("wb")
        env = self.env | {"KEYLESS_PORT": str(port)}
        proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        server = Server("keyless", port, workdir, proc, psutil.Process(proc.pid))
        try:
            server.wait_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def cpu_seconds(self) -> float:
        return sum(server.cpu_seconds() for server in self.servers)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=self.prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
        subprocess.run(
            [sys.executable, "-c", _DROP_SCHEMA, PG_DSN, self.schema], check=False, capture_output=True, timeout=60
        )
        shutil.rmtree(self.workdir, ignore_errors=True)


_DROP_SCHEMA = """
import asyncio, sys, asyncpg
async def main():
    conn = await asyncpg.connect(sys.argv[1])
    await conn.execute(f'DROP SCHEMA IF EXISTS "{sys.argv[2]}" CASCADE')
    await conn.close()
asyncio.run(main())
"""


def backing_servers() -> list[psutil.Process]:
    """The PostgreSQL and Redis server processes on this machine (all of their processes)."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        name = proc.info["name"] or ""
        if name.startswith(("postgres", "redis-server")):
            found.append(proc)
    return found


def cpu_of(procs: list[psutil.Process]) -> dict[str, float]:
    totals = {"postgres": 0.0, "redis": 0.0}
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        kind = "redis" if (proc.info["name"] or "").startswith("redis") else "postgres"
        totals[kind] += times.user + times.system
    return totals


async def measure(deployment: Deployment, concurrency: int, args: argparse.Namespace) -> dict[str, Any]:
    servers = deployment.servers
    conns = [await Conn.open(servers[i % len(servers)].port) for i in range(concurrency)]
    try:
        auth = b"Authorization: Bearer " + await servers[0].token(conns[0]) + b"\r\n"
        poller = Poller()
        await drive(conns, auth, poller, until(time.perf_counter() + args.warmup), None)
        backing = backing_servers()
        cpu0, back0, sys0 = deployment.cpu_seconds(), cpu_of(backing), psutil.cpu_times()
        me0 = psutil.Process().cpu_times()
        t0 = time.perf_counter()
        out = Samples()
        await drive(conns, auth, poller, until(t0 + args.duration), out)
        wall = time.perf_counter() - t0
        await asyncio.sleep(0.2)  # deliveries finishing after the last verify
        cpu1, back1, sys1 = deployment.cpu_seconds(), cpu_of(backing), psutil.cpu_times()
        me1 = psutil.Process().cpu_times()
    finally:
        for conn in conns:
            conn.close()
    flows = len(out.flow)
    busy = sum(getattr(sys1, f) - getattr(sys0, f) for f in ("user", "system", "irq", "softirq", "steal"))
    return {
        "processes": len(servers),
        "concurrency": concurrency,
        "flows": flows,
        "flows_per_s": round(flows / wall, 1),
        "keyless_cpu_ms_per_flow": round((cpu1 - cpu0) * 1000 / flows, 4),
        "postgres_cpu_ms_per_flow": round((back1["postgres"] - back0["postgres"]) * 1000 / flows, 4),
        "redis_cpu_ms_per_flow": round((back1["redis"] - back0["redis"]) * 1000 / flows, 4),
        "client_cpu_ms_per_flow": round(((me1.user + me1.system) - (me0.user + me0.system)) * 1000 / flows, 4),
        "requests_per_flow": round(out.requests / flows, 3),
        "machine_busy_pct": round(100 * busy / (wall * (psutil.cpu_count() or 1)), 1),
        "flow_p50_ms": round(percentile(out.flow, 50) * 1000, 2),
        "flow_p99_ms": round(percentile(out.flow, 99) * 1000, 2),
    }


async def run_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    runs = []
    for rep in range(args.reps):
        for processes in args.processes:
            deployment = await asyncio.to_thread(Deployment, processes)
            try:
                for concurrency in args.concurrency:
                    result = await measure(deployment, concurrency, args)
                    result["rep"] = rep
                    runs.append(result)
                    print(json.dumps(result), file=sys.stderr)
            finally:
                await asyncio.to_thread(deployment.stop)
    return runs


KEYS = (
    "flows_per_s",
    "keyless_cpu_ms_per_flow",
    "postgres_cpu_ms_per_flow",
    "redis_cpu_ms_per_flow",
    "client_cpu_ms_per_flow",
    "requests_per_flow",
    "machine_busy_pct",
    "flow_p50_ms",
    "flow_p99_ms",
)


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for concurrency in sorted({r["concurrency"] for r in runs}, reverse=True):
        for processes in sorted({r["processes"] for r in runs}):
            mine = [r for r in runs if r["concurrency"] == concurrency and r["processes"] == processes]
            row = {"concurrency": concurrency, "processes": processes, "reps": len(mine)}
            row.update({key: statistics.median(r[key] for r in mine) for key in KEYS})
            rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| concurrent flows | keyless processes | flows/s | keyless CPU ms/flow | PostgreSQL CPU ms/flow "
        "| Redis CPU ms/flow | load generator CPU ms/flow | machine busy | flow p50 / p99 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['concurrency']} | {r['processes']} | {r['flows_per_s']:,.0f} | {r['keyless_cpu_ms_per_flow']:.2f} | "
            f"{r['postgres_cpu_ms_per_flow']:.2f} | {r['redis_cpu_ms_per_flow']:.3f} | "
            f"{r['client_cpu_ms_per_flow']:.2f} | {r['machine_busy_pct']:.0f} % | "
            f"{r['flow_p50_ms']:.1f} / {r['flow_p99_ms']:.1f} |"
        )
    return "\n".join(lines)


def generated(report: dict[str, Any]) -> str:
    m, s = report["machine"], report["settings"]
    return "\n".join(
        [
            f"Generated by `{report['command']}` on {report['timestamp']} "
            f"(raw figures: `bench/results/{report['json_name']}`).",
            "",
            f"- Machine: {m['cpus']} vCPUs ({m['cpu_model']}), {m['memory_gb']} GB, Python {m['python']}; load "
            f"average at start {m['loadavg_at_start']}. keyless, PostgreSQL, Redis and the load generator all "
            "share these cores.",
            f"- Each row: median of {s['reps']} repetitions of {s['warmup']} s warm-up + {s['duration']} s measured; "
            "a fresh schema, Redis prefix and processes per repetition.",
            "- CPU per flow: user+system time over the measured window divided by the flows completed; for "
            "PostgreSQL and Redis, of the whole server (anything else it served in that window counts too).",
            "",
            table(report["summary"]),
        ]
    )


SECTION_SKELETON = """
## Scale-out: PostgreSQL + Redis, one and two processes

```
.venv/bin/python bench/scale_out.py --concurrency 64 --concurrency 8 --write-doc      # about four minutes
```

<!-- bench:scale-out:start -->
<!-- bench:scale-out:end -->
"""


def write_doc(report: dict[str, Any]) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if f"<!-- bench:{SECTION}:start -->" not in text:
        text = text.rstrip("\n") + "\n" + SECTION_SKELETON
    DOC.write_text(replace_block(text, SECTION, generated(report)))
    print(f"wrote {DOC.relative_to(ROOT)}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, action="append", help="keyless processes; repeatable (1 and 2)")
    parser.add_argument("--concurrency", type=int, action="append", help="concurrent flows; repeatable (64)")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--write-doc", action="store_true")
    parser.add_argument("--from-json", type=Path, help="report from a saved result")
    argv = sys.argv[1:]
    args = parser.parse_args(argv)
    args.processes = sorted(set(args.processes or [1, 2]))
    args.concurrency = sorted(set(args.concurrency or [64]), reverse=True)
    if args.from_json:
        report = json.loads(args.from_json.read_text())
    else:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        report = {
            "timestamp": time.strftime("%Y-%m-%d %H:%M %Z"),
            "command": " ".join([".venv/bin/python bench/scale_out.py", *argv]),
            "json_name": f"scale-{stamp}.json",
            "machine": machine_facts(),
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        }
        report["runs"] = uvloop.run(run_all(args))
        report["summary"] = summarise(report["runs"])
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / report["json_name"]).write_text(json.dumps(report, indent=2))
        print(f"wrote bench/results/{report['json_name']}", file=sys.stderr)
    print(table(report["summary"]))
    if args.write_doc:
        write_doc(report)


if __name__ == "__main__":
    main()
