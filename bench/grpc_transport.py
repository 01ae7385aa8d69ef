"""Which server and gRPC layer carry keyless's one port: measured with real clients and both official SDKs.

    .venv/bin/python bench/grpc_transport.py [--seconds 3] [--reps 3] [--json out.json]

Variants (each a fresh ``keyless`` working directory on the embedded default):

* ``uvicorn-httptools``  uvicorn + httptools, the server before gRPC: HTTP/1.1 only
* ``keyless``            what ``keyless serve`` runs: the same uvicorn + httptools for HTTP/1.1, and each
                          HTTP/2 connection relayed to grpcio's server on loopback (keyless.serving)
* ``uvicorn-zttp``       uvicorn's own HTTP/1.1 + HTTP/2 protocol (needs ``pip install zttp``)
* ``hypercorn``          hypercorn, h11 + h2 (needs ``pip install hypercorn``)

The two ASGI HTTP/2 servers run keyless's REST app for the HTTP/1.1 workloads and, for the gRPC
workload, a bare ASGI gRPC handler that answers every call with an empty message and trailers: no
keyless code at all, so a failure there is the server's HTTP/2 stack.

Workloads; server CPU is the server process's user+system time over the phase (psutil):

* ``rest-live``    HTTP/1.1 ``GET /health/live``, 32 keep-alive connections (server + framework floor)
* ``rest-resend``  HTTP/1.1 ``POST /api/v1/passwordless/email/resend``, 16 connections
* ``grpc-resend``  ``ResendPasswordlessEmail`` from a grpcio client over h2c, 16 calls in flight
* ``node-sdk``     ``@scalekit-sdk/node`` resendPasswordlessEmail over h2c, 8 calls in flight
* ``python-sdk``   ``scalekit-sdk-python`` resend_passwordless_email over TLS, one at a time (latency)

Every keyless call is a resend of an unknown auth request, answered NOT_FOUND / 404: the bearer check,
one database read and an error with details; the same core call on every transport, and no mail, so
no background delivery spills from one phase into the next. ``--reps`` runs the variants that many
times, interleaved; the report gives medians, and a workload that fails records its error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
NODE_DIR = ROOT / "tests" / "sdk" / "node"
UNLIMITED = "1000000000"
VARIANTS = ("uvicorn-httptools", "keyless", "uvicorn-zttp", "hypercorn")
SERVICE = "scalekit.v1.auth.passwordless.PasswordlessService"
UNKNOWN_ID = "bench-unknown-auth-request-id"
LIMITS = {
    f"KEYLESS_{name}": UNLIMITED
    for name in (
        "SEND_PER_IP_PER_MINUTE",
        "SEND_PER_CLIENT_PER_MINUTE",
        "VERIFY_PER_IP_PER_MINUTE",
        "VERIFY_PER_CLIENT_PER_MINUTE",
        "TOKEN_PER_IP_PER_MINUTE",
    )
}


# --- the server side (a subprocess: ``--serve VARIANT``) -------------------------------------------------


def serve(variant: str, port: int, tls: bool) -> None:
    import uvicorn
    import uvloop

    from keyless.container import build_container
    from keyless.devtls import ensure_dev_tls
    from keyless.logs import configure_logging
    from keyless.serving import uvicorn_config
    from keyless.settings import Settings
    from keyless.storage.migrate import upgrade
    from keyless.storage.url import parse_database_url
    from keyless.web.app import create_app

    settings = Settings()
    configure_logging("warning")
    upgrade(parse_database_url(settings.effective_database_url), settings.database_schema)
    container = build_container(settings)
    cert = ensure_dev_tls(settings.data_dir) if tls else None
    certfile, keyfile = (cert.certfile, cert.keyfile) if cert else (None, None)
    if variant == "keyless":
        uvicorn.Server(uvicorn_config(container, host="127.0.0.1", port=port, certfile=certfile, keyfile=keyfile)).run()
        return
    app = _with_bare_grpc(create_app(container))
    if variant == "hypercorn":
        from hypercorn.asyncio import serve as hypercorn_serve
        from hypercorn.config import Config

        config = Config()
        config.bind = [f"127.0.0.1:{port}"]
        config.keep_alive_timeout = 300
        if cert:
            config.certfile, config.keyfile = str(certfile), str(keyfile)
        uvloop.run(hypercorn_serve(app, config))
        return
    http: Any = "httptools"
    if variant == "uvicorn-zttp":
        from uvicorn.protocols.http.auto_zttp_impl import AutoZttpProtocol

        http = AutoZttpProtocol
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http=http,
        ssl_certfile=str(certfile) if certfile else None,
        ssl_keyfile=str(keyfile) if keyfile else None,
        log_config=None,
        access_log=False,
        lifespan="on",
    )


def _with_bare_grpc(app: Any) -> Any:
    """gRPC requests answered by a bare ASGI handler (empty reply, grpc-status 0 in trailers)."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"")
        if scope["type"] != "http" or not content_type.startswith(b"application/grpc"):
            await app(scope, receive, send)
            return
        while (await receive()).get("more_body"):
            pass
        start = {"type": "http.response.start", "status": 200, "trailers": True}
        await send({**start, "headers": [(b"content-type", b"application/grpc")]})
        await send({"type": "http.response.body", "body": b"\x00\x00\x00\x00\x00"})
        await send({"type": "http.response.trailers", "headers": [(b"grpc-status", b"0")]})

    return wrapped


# --- the client side ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Running:
    """One server subprocess with its own working directory (fresh database, first client)."""

    def __init__(
        self, variant: str, *, tls: bool = False, workdir: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.variant, self.tls = variant, tls
        self.port = free_port()
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix=f"bench-{variant}-"))
        self.url = f"{'https' if tls else 'http'}://localhost:{self.port}"
        base = {k: v for k, v in os.environ.items() if not k.startswith("KEYLESS_")}
        base |= {"KEYLESS_PUBLIC_URL": self.url, "KEYLESS_ACCESS_LOG": "false", "KEYLESS_LOG_LEVEL": "warning"}
        base |= LIMITS | (env or {})
        argv = [sys.executable, __file__, "--serve", variant, "--port", str(self.port)] + (["--tls"] if tls else [])
        self.log_path = self.workdir / f"server-{variant}-{self.port}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(argv, cwd=self.workdir, env=base, stdout=log, stderr=subprocess.STDOUT)
        self.ps = psutil.Process(self.proc.pid)
        self._wait()
        first = json.loads((self.workdir / "keyless-data" / "first-client.json").read_text())
        self.client_id, self.client_secret = first["client_id"], first["client_secret"]
        self.ca = self.workdir / "keyless-data" / "tls" / "ca.pem"

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                if (self.workdir / "keyless-data" / "first-client.json").exists():
                    time.sleep(0.3)
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"{self.variant} did not start:\n{self.log_path.read_text()[-3000:]}")

    def cpu(self) -> float:
        t = self.ps.cpu_times()
        return float(t.user + t.system)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def token(server: Running) -> str:
    import httpx

    response = httpx.post(
        f"http://127.0.0.1:{server.port}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": server.client_id, "client_secret": server.client_secret},
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def _result(count: int, elapsed: float, cpu: float, latencies: list[float]) -> dict[str, float]:
    latencies.sort()
    return {
        "calls": count,
        "per_second": round(count / elapsed, 1),
        "server_cpu_ms_per_call": round(cpu * 1000 / count, 3),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000, 2),
    }


async def http1_load(
    server: Running, target: bytes, body: bytes, conns: int, seconds: float, bearer: str
) -> dict[str, float]:
    sys.path.insert(0, str(BENCH))
    from headless_flow import Conn

    method = b"POST" if body else b"GET"
    headers = f"Authorization: Bearer {bearer}\r\nContent-Type: application/json\r\n".encode()
    pool = [await Conn.open(server.port) for _ in range(conns)]
    count, latencies, stop_at = 0, [], 0.0

    async def worker(conn: Conn) -> None:
        nonlocal count
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            status, _ = await conn.request(method, target, body, headers)
            latencies.append(time.perf_counter() - started)
            if status not in (200, 404):
                raise RuntimeError(f"HTTP {status}")
            count += 1

    for conn in pool:  # warm-up: one request per connection
        await conn.request(method, target, body, headers)
    cpu0, t0 = server.cpu(), time.perf_counter()
    stop_at = t0 + seconds
    await asyncio.gather(*(worker(c) for c in pool))
    elapsed, cpu = time.perf_counter() - t0, server.cpu() - cpu0
    for conn in pool:
        conn.close()
    return _result(count, elapsed, cpu, latencies)


async def grpc_load(server: Running, inflight: int, seconds: float, bearer: str) -> dict[str, float]:
    import grpc

    from keyless.grpc.proto import passwordless_pb2 as pb

    metadata = (("authorization", f"Bearer {bearer}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        call = channel.unary_unary(
            f"/{SERVICE}/ResendPasswordlessEmail",
            request_serializer=pb.ResendPasswordlessRequest.SerializeToString,
            response_deserializer=pb.SendPasswordlessResponse.FromString,
        )
        request = pb.ResendPasswordlessRequest(auth_request_id=UNKNOWN_ID)

        async def one() -> None:
            try:
                await call(request, metadata=metadata, timeout=20)
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.NOT_FOUND:
                    raise

        await one()
        count, latencies, stop_at = 0, [], 0.0

        async def worker() -> None:
            nonlocal count
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                await one()
                latencies.append(time.perf_counter() - started)
                count += 1

        cpu0, t0 = server.cpu(), time.perf_counter()
        stop_at = t0 + seconds
        await asyncio.gather(*(worker() for _ in range(inflight)))
        elapsed, cpu = time.perf_counter() - t0, server.cpu() - cpu0
    return _result(count, elapsed, cpu, latencies)


NODE_SCRIPT = r"""
import { ScalekitClient } from '@scalekit-sdk/node';
const [env, id, secret, seconds, inflight, unknown] = process.argv.slice(2);
const sk = new ScalekitClient(env, id, secret);
async function one() {
  try { await sk.passwordless.resendPasswordlessEmail(unknown); }
  catch (e) { if (e.grpcStatus !== 5) throw e; }
}
await one();  // the token-less first call, UNAUTHENTICATED, the token, the retry
console.log('ready');
const lat = []; const t0 = performance.now(); const stopAt = t0 + Number(seconds) * 1000;
async function worker() {
  while (performance.now() < stopAt) { const s = performance.now(); await one(); lat.push(performance.now() - s); }
}
await Promise.all(Array.from({ length: Number(inflight) }, worker));
console.log(JSON.stringify({ count: lat.length, seconds: (performance.now() - t0) / 1000, lat }));
"""

PYTHON_SCRIPT = r"""
import json, sys, time
from scalekit import ScalekitClient
from scalekit.common.exceptions import ScalekitNotFoundException
env, cid, secret, seconds, unknown = sys.argv[1:6]
sk = ScalekitClient(env, cid, secret)
def one():
    try:
        sk.passwordless.resend_passwordless_email(auth_request_id=unknown)
    except ScalekitNotFoundException:
        pass
one()
print("ready", flush=True)
lat, t0 = [], time.perf_counter()
while time.perf_counter() < t0 + float(seconds):
    s = time.perf_counter(); one(); lat.append((time.perf_counter() - s) * 1000)
print(json.dumps({"count": len(lat), "seconds": time.perf_counter() - t0, "lat": lat}))
"""


def sdk_load(server: Running, kind: str, seconds: float, inflight: int) -> dict[str, float]:
    """Server CPU counts from the SDK's "ready" line: client start-up and the token are outside."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYLESS_")}
    tmp = Path(tempfile.mkdtemp(prefix="bench-sdk-"))
    if kind == "node":
        script = NODE_DIR / f"_bench_{os.getpid()}.mjs"
        script.write_text(NODE_SCRIPT)
        argv = [
            "node",
            str(script),
            server.url,
            server.client_id,
            server.client_secret,
            str(seconds),
            str(inflight),
            UNKNOWN_ID,
        ]
        if server.tls:
            env["NODE_EXTRA_CA_CERTS"] = str(server.ca)
    else:
        script = tmp / "bench_sdk.py"
        script.write_text(PYTHON_SCRIPT)
        argv = [
            sys.executable,
            str(script),
            server.url,
            server.client_id,
            server.client_secret,
            str(seconds),
            UNKNOWN_ID,
        ]
        env |= {"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(server.ca), "REQUESTS_CA_BUNDLE": str(server.ca)}
    try:
        proc = subprocess.Popen(argv, cwd=NODE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        first = proc.stdout.readline()
        cpu0 = server.cpu()
        out, err = proc.communicate(timeout=120)
        cpu = server.cpu() - cpu0
        if proc.returncode or first.strip() != "ready":
            raise RuntimeError(f"{kind} SDK failed: {(first + out + err)[-1500:]}")
    finally:
        if kind == "node":
            script.unlink(missing_ok=True)
    data = json.loads(out.strip().splitlines()[-1])
    return _result(data["count"], data["seconds"], cpu, [v / 1000 for v in data["lat"]])


async def guarded(row: dict[str, Any], name: str, make: Callable[[], Any]) -> None:
    try:
        result = make()
        row[name] = await result if asyncio.iscoroutine(result) else result
    except Exception as exc:  # a failing server is a result too
        row[name] = {"error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"}


async def run_variant(variant: str, seconds: float) -> dict[str, Any]:
    row: dict[str, Any] = {}
    server = Running(variant)
    try:
        bearer = token(server)
        await guarded(row, "rest-live", lambda: http1_load(server, b"/health/live", b"", 32, seconds, bearer))
        body = json.dumps({"auth_request_id": UNKNOWN_ID}).encode()
        resend = b"/api/v1/passwordless/email/resend"
        await guarded(row, "rest-resend", lambda: http1_load(server, resend, body, 16, seconds, bearer))
        if variant != "uvicorn-httptools":
            await guarded(row, "grpc-resend", lambda: grpc_load(server, 16, seconds, bearer))
        if variant == "keyless":
            await guarded(row, "node-sdk", lambda: sdk_load(server, "node", seconds, 8))
    finally:
        server.stop()
    if variant == "keyless":
        tls = Running(variant, tls=True)
        try:
            await guarded(row, "python-sdk", lambda: sdk_load(tls, "python", seconds, 1))
        finally:
            tls.stop()
    return row


def median_rows(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["load_1min"] = [run.get("load_1min") for run in runs]
    for workload in dict.fromkeys(k for run in runs for k in run if k != "load_1min"):
        good = [run[workload] for run in runs if workload in run and "error" not in run[workload]]
        errors = [run[workload]["error"] for run in runs if workload in run and "error" in run[workload]]
        if good:
            out[workload] = {k: statistics.median(r[k] for r in good) for k in good[0]}
        if errors:
            out.setdefault(workload, {})["errors"] = errors
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in args.variants}
    for rep in range(args.reps):
        for variant in args.variants:
            row = await run_variant(variant, args.seconds)
            runs[variant].append(row)
            # Other work on the machine skews every number: record the load next to each run.
            row["load_1min"] = os.getloadavg()[0]
            print(f"rep {rep + 1} {variant} {json.dumps(row)}", flush=True)
    return {variant: median_rows(rows) for variant, rows in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=VARIANTS)
    parser.add_argument("--port", type=int)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.tls)
        return
    if shutil.which("node") is None or not (NODE_DIR / "node_modules").exists():
        raise SystemExit("needs node and tests/sdk/node/node_modules (make sdk-deps)")
    import importlib.util

    import uvloop

    for variant, module in (("uvicorn-zttp", "zttp"), ("hypercorn", "hypercorn")):
        if variant in args.variants and importlib.util.find_spec(module) is None:
            print(f"skipping {variant}: pip install {module} to measure it", file=sys.stderr)
            args.variants.remove(variant)
    summary = uvloop.run(main_async(args))
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(
            json.dumps(
                {"cpus": os.cpu_count(), "seconds": args.seconds, "reps": args.reps, "median": summary}, indent=2
            )
        )


if __name__ == "__main__":
    main()
