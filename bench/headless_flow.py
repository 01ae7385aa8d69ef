"""Headless-flow benchmark: server CPU and latency of send -> read code -> verify, against a bare floor.

    .venv/bin/python bench/headless_flow.py [--flows N] [--concurrency 64] [--duration S] [--write-doc]

Starts ``keyless serve`` as a user would (fresh working directory, limits raised, access log off, log
level warning) and ``bench/bare_app.py`` (the same uvicorn set-up around a do-nothing ASGI handler),
then drives complete flows with bounded concurrency from one lean asyncio client (raw HTTP/1.1,
keep-alive, one connection per concurrent flow). Server CPU is the server process's user+system time
(all threads) over the measured phase, read with psutil. Each (concurrency, target) is measured
``--reps`` times; the report gives medians. Results go to ``bench/results/headless-<timestamp>.json``;
``--write-doc`` regenerates the generated parts of ``docs/benchmarks.md``; ``--profile`` adds a py-spy
profile (and a perf one, when perf is installed) of keyless under load at the highest concurrency;
``--diag`` runs keyless through ``bench/diag_serve.py`` with timing probes (writer hops, outbox).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import psutil
import uvloop

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
DOC = ROOT / "docs" / "benchmarks.md"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(BENCH))
from profile_summary import LOOP, WRITER, perf_markdown, perf_summary, summarise, to_markdown  # noqa: E402

TARGET_CPU_MS = 2.5  # the target at 64 concurrent flows, embedded default
TARGET_P99_OVER_P50 = 5.0
UNLIMITED = "1000000000"
SEND = b"/api/v1/passwordless/email/send"
VERIFY = b"/api/v1/passwordless/email/verify"
CODE = re.compile(r"(?m)^\s*(\d{6})\s*$")
STEPS = ("send", "mailbox", "verify", "flow", "delivered")


# --- a minimal HTTP/1.1 keep-alive client (the load generator shares the 2 cores: keep it lean) ----


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        self.reader, self.writer = reader, writer
        self.host = f"Host: 127.0.0.1:{port}\r\n".encode()

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer, port)

    async def request(self, method: bytes, target: bytes, body: bytes = b"", headers: bytes = b"") -> tuple[int, bytes]:
        length = b"Content-Length: %d\r\n" % len(body) if method == b"POST" else b""
        self.writer.write(b"%s %s HTTP/1.1\r\n%s%s%s\r\n%s" % (method, target, self.host, headers, length, body))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        at = head.lower().find(b"\r\ncontent-length:")
        if at < 0:
            raise RuntimeError(f"response without Content-Length: {head!r}")
        end = head.index(b"\r\n", at + 2)
        payload = await self.reader.readexactly(int(head[at + 17 : end]))
        return status, payload

    def close(self) -> None:
        self.writer.close()


# --- the servers --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    name: str  # "keyless" or "bare"
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes]
    ps: psutil.Process
    client_id: str = ""
    client_secret: str = ""
    diag_out: Path | None = None

    @classmethod
    def start(cls, name: str, args: argparse.Namespace | None = None) -> Server:
        port = free_port()
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEYLESS_")}
        if name == "keyless":
            keyless = BIN / "keyless"
            argv = [str(keyless if keyless.exists() else shutil.which("keyless") or "keyless"), "serve"]
            # Diagnostics and what-ifs: the same server set-up via bench/diag_serve.py.
            diag = {
                "BENCH_DIAG_OUT": str(workdir / "diag.json") if args and args.diag else None,
                "BENCH_SWITCH_INTERVAL": args and args.switch_interval,
                "BENCH_OUTBOX_CONCURRENCY": args and args.outbox_concurrency,
            }
            if any(diag.values()):
                argv = [sys.executable, str(BENCH / "diag_serve.py")]
                env |= {k: str(v) for k, v in diag.items() if v}
            env |= {
                "KEYLESS_HOST": "127.0.0.1",
                "KEYLESS_PORT": str(port),
                "KEYLESS_PUBLIC_URL": f"http://127.0.0.1:{port}",
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
        else:
            argv = [sys.executable, str(BENCH / "bare_app.py"), "--port", str(port)]
        log = (workdir / "server.log").open("wb")
        proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        server = cls(name, port, workdir, proc, psutil.Process(proc.pid))
        if name == "keyless" and args and args.diag:
            server.diag_out = workdir / "diag.json"
        server.wait_ready()
        if name == "keyless":
            first = json.loads((workdir / "keyless-data" / "first-client.json").read_text())
            server.client_id, server.client_secret = first["client_id"], first["client_secret"]
        return server

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1) as s:
                s.sendall(b"GET /health/ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        return (self.workdir / "server.log").read_text(errors="replace")[-3000:]

    async def probes(self) -> dict[str, Any] | None:
        """diag_serve's probe statistics since the previous call (None without --diag)."""
        if self.diag_out is None:
            return None
        self.diag_out.unlink(missing_ok=True)
        self.proc.send_signal(signal.SIGUSR1)
        for _ in range(50):
            await asyncio.sleep(0.05)
            if self.diag_out.exists():
                await asyncio.sleep(0.05)
                probes: dict[str, Any] = json.loads(self.diag_out.read_text())
                return probes
        return None

    def main_thread_cpu_seconds(self) -> float:
        """User + system time of the server's main thread (the event loop)."""
        return sum(t.user_time + t.system_time for t in self.ps.threads() if t.id == self.ps.pid)

    def cpu_seconds(self) -> float:
        """User + system time of the server process, all its threads (and any child processes)."""
        total = 0.0
        for proc in [self.ps, *self.ps.children(recursive=True)]:
            times = proc.cpu_times()
            total += times.user + times.system
        return total

    async def token(self, conn: Conn) -> bytes:
        form = f"grant_type=client_credentials&client_id={quote(self.client_id)}"
        form += f"&client_secret={quote(self.client_secret)}"
        status, body = await conn.request(
            b"POST", b"/oauth/token", form.encode(), b"Content-Type: application/x-www-form-urlencoded\r\n"
        )
        if status != 200:
            raise RuntimeError(f"token: {status} {body!r}")
        token: str = orjson.loads(body)["access_token"]
        return token.encode()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


# --- one complete flow ----------------------------------------------------------------------------------


@dataclass
class Samples:
    send: list[float] = field(default_factory=list)
    mailbox: list[float] = field(default_factory=list)
    verify: list[float] = field(default_factory=list)
    flow: list[float] = field(default_factory=list)
    delivered: list[float] = field(default_factory=list)  # send start -> mail stored (server's stamp)
    requests: int = 0


_emails = (f"bench-{os.getpid()}-{i}@example.com" for i in range(10**12))


@dataclass
class Poller:
    """When to read the dev mailbox. Delivery is asynchronous and every empty read is server CPU that a
    real client (a person reading mail) never causes. The mailbox stamps each message with the server's
    clock (``created_at``; same host, same clock), so the driver knows how long after the send response
    each recent mail was stored, whatever it polls: the first read waits the 80th percentile of the last
    64 such delays, and after a miss the next read comes after a quarter of the time waited so far
    (1 to 50 ms). Against the bare handler (no stamps) reads start at once. ``eager``: always at once."""

    eager: bool = False
    delays: deque[float] = field(default_factory=lambda: deque(maxlen=64))

    def first_wait(self) -> float:
        if self.eager or len(self.delays) < 8:
            return 0.0
        return max(0.0, sorted(self.delays)[int(len(self.delays) * 0.8)])

    @staticmethod
    def retry_after(waited: float) -> float:
        return min(0.05, max(0.001, waited / 4))

    def observe(self, stored_after: float) -> None:
        self.delays.append(stored_after)


async def one_flow(conn: Conn, auth: bytes, poller: Poller, out: Samples | None) -> None:
    email = next(_emails)
    json_auth = auth + b"Content-Type: application/json\r\n"
    wall0, t0 = time.time(), time.perf_counter()
    status, body = await conn.request(b"POST", SEND, orjson.dumps({"email": email}), json_auth)
    if status != 200:
        raise RuntimeError(f"send: {status} {body!r}")
    request_id = orjson.loads(body)["auth_request_id"]
    wall1, t1 = time.time(), time.perf_counter()
    mailbox = f"/dev/mailbox/messages?to={quote(email)}&limit=1".encode()
    polls = 0
    if wait := poller.first_wait():
        await asyncio.sleep(wait)
    while True:  # delivery is asynchronous: poll until the message is there
        polls += 1
        status, body = await conn.request(b"GET", mailbox)
        messages = orjson.loads(body)["messages"] if status == 200 else []
        if messages:
            match = CODE.search(messages[0]["text"])
            if match is None:
                raise RuntimeError(f"no code in {messages[0]['text']!r}")
            break
        if polls >= 500:
            raise RuntimeError(f"no mail for {email} after {polls} reads ({status})")
        await asyncio.sleep(poller.retry_after(time.perf_counter() - t1))
    t2 = time.perf_counter()
    stamp = messages[0].get("created_at")
    if isinstance(stamp, float):
        poller.observe(stamp - wall1)
    payload = orjson.dumps({"code": match.group(1), "auth_request_id": request_id})
    status, body = await conn.request(b"POST", VERIFY, payload, json_auth)
    if status != 200:
        raise RuntimeError(f"verify: {status} {body!r}")
    t3 = time.perf_counter()
    if out is not None:
        out.send.append(t1 - t0)
        out.mailbox.append(t2 - t1)
        out.verify.append(t3 - t2)
        out.flow.append(t3 - t0)
        out.requests += 2 + polls
        if isinstance(stamp, float):  # same host, same clock: when the mailer stored the mail
            out.delivered.append(stamp - wall0)


async def drive(conns: list[Conn], auth: bytes, poller: Poller, more: Callable[[], bool], out: Samples | None) -> None:
    async def worker(conn: Conn) -> None:
        while more():
            await one_flow(conn, auth, poller, out)

    await asyncio.gather(*(worker(c) for c in conns))


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(len(ordered) * pct / 100 + 0.999999) - 1))]


def counter(limit: int) -> Callable[[], bool]:
    taken = 0

    def more() -> bool:
        nonlocal taken
        taken += 1
        return taken <= limit

    return more


def until(deadline: float) -> Callable[[], bool]:
    return lambda: time.perf_counter() < deadline


async def empty_read_cpu_ms(server: Server, conns: list[Conn], seconds: float = 1.5) -> float:
    """Server CPU of one empty dev-mailbox read at this concurrency (a read that finds no mail yet)."""
    count = 0

    async def reader(conn: Conn, i: int) -> None:
        nonlocal count
        target = f"/dev/mailbox/messages?to={quote(f'nobody-{i}@example.com')}&limit=1".encode()
        while time.perf_counter() < deadline:
            await conn.request(b"GET", target)
            count += 1

    deadline = time.perf_counter() + 0.3  # warm
    await asyncio.gather(*(reader(c, i) for i, c in enumerate(conns)))
    cpu0, count = server.cpu_seconds(), 0
    deadline = time.perf_counter() + seconds
    await asyncio.gather(*(reader(c, i) for i, c in enumerate(conns)))
    return round((server.cpu_seconds() - cpu0) * 1000 / count, 4)


async def measure(server: Server, concurrency: int, args: argparse.Namespace) -> dict[str, Any]:
    conns = [await Conn.open(server.port) for _ in range(concurrency)]
    try:
        auth = b"Authorization: Bearer " + await server.token(conns[0]) + b"\r\n"
        poller = Poller(eager=args.eager_poll)
        await drive(conns, auth, poller, until(time.perf_counter() + args.warmup), None)
        await server.probes()
        me = psutil.Process()
        cpu0, loop0 = server.cpu_seconds(), server.main_thread_cpu_seconds()
        me0, sys0 = me.cpu_times(), psutil.cpu_times()
        t0 = time.perf_counter()
        out = Samples()
        more = counter(args.flows) if args.flows else until(t0 + args.duration)
        await drive(conns, auth, poller, more, out)
        wall = time.perf_counter() - t0
        me1, sys1 = me.cpu_times(), psutil.cpu_times()
        await asyncio.sleep(0.2)  # let deliveries finishing after the last verify (mark sent) be counted
        cpu1, loop1 = server.cpu_seconds(), server.main_thread_cpu_seconds()
        probes = await server.probes()
        empty_read = await empty_read_cpu_ms(server, conns) if server.name == "keyless" else None
    finally:
        for conn in conns:
            conn.close()
    flows = len(out.flow)
    extra_reads = out.requests / flows - 3
    busy = sum(getattr(sys1, f) - getattr(sys0, f) for f in ("user", "system", "irq", "softirq", "steal"))
    result = {
        "target": server.name,
        "concurrency": concurrency,
        "flows": flows,
        "wall_s": round(wall, 3),
        "flows_per_s": round(flows / wall, 1),
        "server_cpu_ms_per_flow": round((cpu1 - cpu0) * 1000 / flows, 4),
        "server_loop_thread_cpu_ms_per_flow": round((loop1 - loop0) * 1000 / flows, 4),
        "client_cpu_ms_per_flow": round(((me1.user + me1.system) - (me0.user + me0.system)) * 1000 / flows, 4),
        "requests_per_flow": round(out.requests / flows, 3),
        "empty_mailbox_read_cpu_ms": empty_read,
        # what the flow costs with exactly one mailbox read: empty reads taken off at their measured cost
        "server_cpu_ms_per_flow_at_3_requests": round((cpu1 - cpu0) * 1000 / flows - extra_reads * empty_read, 4)
        if empty_read is not None
        else round((cpu1 - cpu0) * 1000 / flows, 4),
        "machine_busy_pct": round(100 * busy / (wall * (psutil.cpu_count() or 1)), 1),
        "steal_pct": round(100 * (sys1.steal - sys0.steal) / (wall * (psutil.cpu_count() or 1)), 1),
        "latency_ms": {
            step: {
                "p50": round(percentile(getattr(out, step), 50) * 1000, 3),
                "p99": round(percentile(getattr(out, step), 99) * 1000, 3),
            }
            for step in STEPS
            if getattr(out, step)
        },
    }
    if probes is not None:
        result["probes"] = probes
    return result


# --- the run ----------------------------------------------------------------------------------------------


def summarise_runs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for concurrency in sorted({r["concurrency"] for r in runs}, reverse=True):
        row: dict[str, Any] = {"concurrency": concurrency}
        for target in ("keyless", "bare"):
            mine = [r for r in runs if r["concurrency"] == concurrency and r["target"] == target]
            med: dict[str, Any] = {
                key: statistics.median(r[key] for r in mine)
                for key in (
                    "flows_per_s",
                    "server_cpu_ms_per_flow",
                    "server_cpu_ms_per_flow_at_3_requests",
                    "server_loop_thread_cpu_ms_per_flow",
                    "client_cpu_ms_per_flow",
                    "requests_per_flow",
                    "machine_busy_pct",
                    "steal_pct",
                )
            }
            med["latency_ms"] = {
                step: {p: statistics.median(r["latency_ms"][step][p] for r in mine) for p in ("p50", "p99")}
                for step in STEPS
                if all(step in r["latency_ms"] for r in mine)
            }
            med["reps"] = len(mine)
            med["server_cpu_ms_per_flow_range"] = [
                min(r["server_cpu_ms_per_flow"] for r in mine),
                max(r["server_cpu_ms_per_flow"] for r in mine),
            ]
            row[target] = med
        k, b = row["keyless"], row["bare"]
        row["cpu_ratio_to_bare"] = round(k["server_cpu_ms_per_flow"] / b["server_cpu_ms_per_flow"], 1)
        row["flow_p99_over_p50"] = round(k["latency_ms"]["flow"]["p99"] / k["latency_ms"]["flow"]["p50"], 2)
        rows.append(row)
    return rows


async def run_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    servers = {}
    try:
        for name in ("keyless", "bare"):
            servers[name] = Server.start(name, args)
            print(f"{name}: pid {servers[name].proc.pid}, port {servers[name].port}", file=sys.stderr)
        for rep in range(1, args.reps + 1):
            for concurrency in args.concurrency:
                for name in ("keyless", "bare"):  # back to back, so both see the same machine noise
                    result = await measure(servers[name], concurrency, args)
                    result["rep"] = rep
                    runs.append(result)
                    print(
                        f"rep {rep} c={concurrency:<3} {name:<7} {result['flows']:>6} flows "
                        f"{result['flows_per_s']:>8.1f}/s  "
                        f"cpu {result['server_cpu_ms_per_flow']:.3f} ms/flow  "
                        f"flow p50/p99 {result['latency_ms']['flow']['p50']:.1f}/"
                        f"{result['latency_ms']['flow']['p99']:.1f} ms",
                        file=sys.stderr,
                    )
                    for probe, values in result.get("probes", {}).items():
                        print(f"    {probe:<40} {values}", file=sys.stderr)
    finally:
        for server in servers.values():
            server.stop()
    return runs


async def profile(args: argparse.Namespace, stamp: str) -> tuple[Path, dict[str, Any]]:
    """py-spy over a fresh keyless under the highest concurrency; raw folded stacks for profile_summary,
    with the per-thread CPU per flow measured in the same window."""
    server = Server.start("keyless")
    out = RESULTS / f"profile-{stamp}.txt"
    concurrency, seconds = max(args.concurrency), int(args.profile_seconds)
    try:
        conns = [await Conn.open(server.port) for _ in range(concurrency)]
        auth = b"Authorization: Bearer " + await server.token(conns[0]) + b"\r\n"
        poller = Poller(eager=args.eager_poll)
        await drive(conns, auth, poller, until(time.perf_counter() + args.warmup), None)
        spy = await asyncio.create_subprocess_exec(
            *(str(BIN / "py-spy"), "record", "--pid", str(server.proc.pid), "--rate", "100"),
            *("--format", "raw", "--duration", str(seconds + 2), "--output", str(out)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        await drive(conns, auth, poller, until(time.perf_counter() + 1.0), None)  # while py-spy attaches
        cpu0, loop0, flows = server.cpu_seconds(), server.main_thread_cpu_seconds(), Samples()
        await drive(conns, auth, poller, until(time.perf_counter() + seconds), flows)
        cpu1, loop1 = server.cpu_seconds(), server.main_thread_cpu_seconds()
        _, err = await asyncio.wait_for(spy.communicate(), 60)
        if spy.returncode != 0 or not out.exists():
            raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')}")
        perf = None
        if shutil.which("perf"):  # the on-CPU native split, under the same load, after py-spy
            data = RESULTS / f"perf-{stamp}.data"
            recorder = await asyncio.create_subprocess_exec(
                *("perf", "record", "-F", "999", "-e", "cpu-clock", "-p", str(server.proc.pid), "-o", str(data)),
                *("--", "sleep", str(seconds)),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await drive(conns, auth, poller, until(time.perf_counter() + seconds + 0.5), None)
            await recorder.wait()
            perf = perf_summary(data, server.proc.pid) if recorder.returncode == 0 and data.exists() else None
        for conn in conns:
            conn.close()
    finally:
        server.stop()
    n = len(flows.flow)
    cpu_ms = {LOOP: (loop1 - loop0) * 1000 / n, WRITER: ((cpu1 - cpu0) - (loop1 - loop0)) * 1000 / n}
    summary = summarise(out, {k: round(v, 3) for k, v in cpu_ms.items()})
    summary["flows"], summary["requests_per_flow"] = n, round(flows.requests / n, 2)
    summary["perf"] = perf
    return out, summary


# --- reporting ---------------------------------------------------------------------------------------------


def fmt_latency(stats: dict[str, Any], step: str) -> str:
    lat = stats["latency_ms"].get(step)
    return f"{lat['p50']:.2f} / {lat['p99']:.2f}" if lat else "-"


def results_table(summary: list[dict[str, Any]]) -> str:
    lines = [
        "| concurrent flows | server | flows/s | server CPU ms/flow (min-max) | same at 3 requests/flow | x bare "
        "| requests/flow | send p50/p99 ms | mail stored p50/p99 ms | mailbox read p50/p99 ms "
        "| verify p50/p99 ms | flow p50/p99 ms | flow p99/p50 |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summary:
        for target in ("keyless", "bare"):
            s = row[target]
            ratio = f"{row['cpu_ratio_to_bare']:.1f}x" if target == "keyless" else "1x"
            flow = s["latency_ms"]["flow"]
            low, high = s["server_cpu_ms_per_flow_range"]
            lines.append(
                f"| {row['concurrency']} | {target} | {s['flows_per_s']:,.0f} | "
                f"{s['server_cpu_ms_per_flow']:.3f} ({low:.2f}-{high:.2f}) | "
                f"{s['server_cpu_ms_per_flow_at_3_requests']:.3f} | "
                f"{ratio} | {s['requests_per_flow']:.2f} | {fmt_latency(s, 'send')} | "
                f"{fmt_latency(s, 'delivered')} | {fmt_latency(s, 'mailbox')} | {fmt_latency(s, 'verify')} | "
                f"{fmt_latency(s, 'flow')} | {flow['p99'] / flow['p50']:.1f} |"
            )
    return "\n".join(lines)


def targets_text(summary: list[dict[str, Any]]) -> str:
    row = next((r for r in summary if r["concurrency"] == 64), None)
    if row is None:
        return "The issue's targets are stated at 64 concurrent flows; this run did not measure 64."
    k = row["keyless"]
    cpu, cpu3 = k["server_cpu_ms_per_flow"], k["server_cpu_ms_per_flow_at_3_requests"]
    lat = k["latency_ms"]
    ratios = {step: lat[step]["p99"] / lat[step]["p50"] for step in ("flow", "send", "delivered", "verify")}

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    return (
        f"- Server CPU per complete flow at 64 concurrent flows: **{cpu:.2f} ms** as driven "
        f"({k['requests_per_flow']:.2f} requests/flow), **{cpu3:.2f} ms** with one mailbox read per flow; "
        f"target ≤ {TARGET_CPU_MS} ms: {verdict(max(cpu, cpu3) <= TARGET_CPU_MS)}.\n"
        f"- p99/p50 at 64 concurrent flows: whole flow **{ratios['flow']:.1f}**, send {ratios['send']:.1f}, "
        f"mail stored {ratios['delivered']:.1f}, verify {ratios['verify']:.1f}; target ≤ {TARGET_P99_OVER_P50:.0f} "
        f"(whole flow): {verdict(ratios['flow'] <= TARGET_P99_OVER_P50)}."
    )


def source_state() -> str:
    """The keyless source measured: the commit, and whether src/ had uncommitted changes (read-only git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--", "src"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    except OSError:
        return "unknown"
    changed = len(dirty.stdout.splitlines())
    return head.stdout.strip() + (f" + {changed} uncommitted changes under src/" if changed else "")


def machine_facts() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpus": psutil.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def generated_block(report: dict[str, Any]) -> str:
    m, s = report["machine"], report["settings"]
    amount = f"{s['flows']} flows" if s["flows"] else f"{s['duration']} s"
    busy = ", ".join(
        f"c={r['concurrency']}: {r['keyless']['machine_busy_pct']:.0f} % busy / {r['keyless']['steal_pct']:.1f} % steal"
        for r in report["summary"]
    )
    whatifs = [
        f"`--{k.replace('_', '-')}`"
        for k in ("diag", "switch_interval", "outbox_concurrency", "eager_poll")
        if s.get(k)
    ]
    return "\n".join(
        [
            *([f"**Diagnostic run** ({', '.join(whatifs)}): not the default server or client.", ""] if whatifs else []),
            f"Generated by `{report['command']}` on {report['timestamp']} "
            f"(raw figures: `bench/results/{report['json_name']}`); keyless at {report.get('source', 'unknown')}.",
            "",
            f"- Machine: {m['cpus']} vCPUs ({m['cpu_model']}, KVM guest), {m['memory_gb']} GB, Linux "
            f"{m['kernel']}, Python {m['python']}; shared and noisy, load average at start "
            f"{m['loadavg_at_start']}. Machine CPU during the keyless phases (both cores): {busy}.",
            "- Server and load generator share the 2 cores; server CPU is the server process's user+system "
            "time (all threads) over the measured phase, so it is independent of who else runs.",
            f"- Each cell: median of {s['reps']} repetitions; each repetition = {s['warmup']} s warm-up, "
            f"then {amount} measured; keyless and the bare handler measured back to back.",
            "- A flow = `POST /send` → `GET /dev/mailbox/messages` (repeated until the mail is there: "
            "*requests/flow* counts the polls) → `POST /verify`; a fresh address per flow, one access "
            "token per measurement. The bare handler answers the same three requests with a fixed JSON.",
            "- *x bare*: keyless server CPU per flow ÷ the bare handler's server CPU per 3 requests, same run.",
            "",
            results_table(report["summary"]),
            "",
            targets_text(report["summary"]),
        ]
    )


DOC_SKELETON = """# Benchmarks

## Headless flow: send → read the code → verify

```
make bench          # = .venv/bin/python bench/headless_flow.py   (about five minutes)
.venv/bin/python bench/headless_flow.py --profile --write-doc      # also profile; rewrite the tables here
.venv/bin/python bench/components.py --write-doc                   # in-process component costs
```

<!-- bench:results:start -->
<!-- bench:results:end -->

## Where the time goes

<!-- bench:profile:start -->
<!-- bench:profile:end -->

<!-- bench:components:start -->
<!-- bench:components:end -->
"""


def replace_block(text: str, name: str, content: str) -> str:
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    return pattern.sub(lambda _: f"{start}\n{content}\n{end}", text)


def write_doc(report: dict[str, Any]) -> None:
    text = DOC.read_text() if DOC.exists() else DOC_SKELETON
    text = replace_block(text, "results", generated_block(report))
    if report.get("profile"):
        p = report["profile"]
        text = replace_block(
            text,
            "profile",
            f"Profile: `py-spy record --rate 100 --format raw` of `keyless serve` for "
            f"{p['seconds']} s at {p['concurrency']} concurrent flows ({p['summary']['flows']} flows, "
            f"{p['summary']['requests_per_flow']} requests/flow) (`bench/results/{p['file']}`; "
            f"summarise with `bench/profile_summary.py`).\n\n{p['markdown']}",
        )
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)
    print(f"wrote {DOC.relative_to(ROOT)}", file=sys.stderr)


def print_report(report: dict[str, Any]) -> None:
    print(results_table(report["summary"]))
    print()
    print(targets_text(report["summary"]))
    if report.get("profile"):
        print()
        print(report["profile"]["markdown"])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flows", type=int, default=0, help="measured flows per run (default: by --duration)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per run (default 10)")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per run (default 3)")
    parser.add_argument(
        "--concurrency",
        type=int,
        action="append",
        help="concurrent flows; repeatable (default: 64, 8 and 1)",
    )
    parser.add_argument("--reps", type=int, default=3, help="repetitions; medians are reported (default 3)")
    parser.add_argument("--profile", action="store_true", help="also py-spy keyless at the top concurrency")
    parser.add_argument("--profile-seconds", type=float, default=15.0)
    parser.add_argument("--eager-poll", action="store_true", help="read the mailbox at once (see Poller)")
    parser.add_argument("--diag", action="store_true", help="keyless via bench/diag_serve.py with probes")
    parser.add_argument("--switch-interval", type=float, help="what-if: keyless with this GIL interval")
    parser.add_argument("--outbox-concurrency", type=int, help="what-if: keyless with this outbox concurrency")
    parser.add_argument("--write-doc", action="store_true", help="regenerate the tables in docs/benchmarks.md")
    parser.add_argument("--from-json", type=Path, help="report from a saved result")
    args = parser.parse_args(argv)
    args.concurrency = sorted(set(args.concurrency or [64, 8, 1]), reverse=True)
    return args


def command_line(argv: list[str]) -> str:
    return " ".join([".venv/bin/python bench/headless_flow.py", *argv])


def main() -> None:
    argv = sys.argv[1:]
    args = parse_args(argv)
    if args.from_json:
        report = json.loads(args.from_json.read_text())
        report["summary"] = summarise_runs(report["runs"])
    else:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        report = {
            "timestamp": time.strftime("%Y-%m-%d %H:%M %Z"),
            "command": command_line(argv),
            "json_name": f"headless-{stamp}.json",
            "machine": machine_facts(),
            "source": source_state(),
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        }
        RESULTS.mkdir(exist_ok=True)
        report["runs"] = uvloop.run(run_all(args))
        report["summary"] = summarise_runs(report["runs"])
        if args.profile:
            path, prof = uvloop.run(profile(args, stamp))
            report["profile"] = {
                "file": path.name,
                "seconds": int(args.profile_seconds),
                "concurrency": max(args.concurrency),
                "summary": prof,
                "markdown": to_markdown(prof) + ("\n\n" + perf_markdown(prof["perf"]) if prof["perf"] else ""),
            }
        (RESULTS / report["json_name"]).write_text(json.dumps(report, indent=2))
        print(f"wrote bench/results/{report['json_name']}", file=sys.stderr)
    print_report(report)
    if args.write_doc:
        write_doc(report)


if __name__ == "__main__":
    main()
