"""The deployment guide's two nginx configurations, run as written in front of two keyless processes.

Each ``nginx`` block is read from ``docs/guides/deployment.md`` and picked by the file name on its first
line; only the upstream ports, the listen port and the certificate paths are replaced. Clients are the
official Scalekit SDKs (``tests/sdk``) and plain HTTP. ``make test`` installs Debian's nginx and its
stream module when they are missing.

* Layer 4 (``stream``): nginx passes TLS connections through and keyless ends TLS, so the Python SDK's
  two ``authorization`` headers reach keyless. Python SDK, Node SDK and REST through one listener.
* Layer 7 (``http``): nginx ends TLS; REST by ``proxy_pass``, the Node SDK's gRPC by ``grpc_pass``. The
  Python SDK's gRPC is refused by nginx itself, as the guide says.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from keyless.devtls import ensure_dev_tls
from keyless.settings import Settings
from tests.e2e.scalekit.sdk import send, verify
from tests.support.cluster import MAGICLINK_URI, Cluster, StallingSmtpSink, running_cluster, wait_until
from tests.support.flows import SEND, VERIFY
from tests.support.scalekit import SdkDriver
from tests.support.server import ServerProcess
from tests.support.smtp import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "guides" / "deployment.md"
NGINX = "/usr/sbin/nginx"
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
LAYER4 = "/etc/nginx/keyless-stream.conf"
LAYER7 = "/etc/nginx/conf.d/keyless.conf"
GUIDE_PORTS = ("8081", "8082")  # the processes in the guide's upstream blocks, in order


def guide_config(name: str) -> str:
    """The guide's nginx block whose first line names the file ``name``."""
    blocks = re.findall(r"```nginx\n(.*?)```", GUIDE.read_text(), re.S)
    named = {block.split("\n", 1)[0].removeprefix("# ").split(",")[0]: str(block) for block in blocks}
    assert set(named) == {LAYER4, LAYER7}, f"the deployment guide's nginx blocks changed: {sorted(named)}"
    return named[name]


def render(config: str, upstreams: list[int], port: int, cert: Path, key: Path) -> str:
    ports = dict(zip(GUIDE_PORTS, map(str, upstreams), strict=True))
    config, servers = re.subn(r"server 127\.0\.0\.1:(\d+)", lambda m: f"server 127.0.0.1:{ports[m[1]]}", config)
    assert servers >= 2, config
    listens = 0
    for written in ("listen 443 ssl http2;", "listen 443;"):
        listens += config.count(written)
        config = config.replace(written, written.replace("443", f"127.0.0.1:{port}"))
    assert listens == 1, config
    config = config.replace("/etc/keyless/tls/fullchain.pem", str(cert))
    return config.replace("/etc/keyless/tls/privkey.pem", str(key))


class Nginx:
    """Debian's nginx with the guide's block: a layer-7 site is included inside ``http {}`` (as
    ``conf.d`` is), a layer-4 one at the top level (as the guide's ``include`` line puts it)."""

    def __init__(self, workdir: Path, *, site: str = "", stream: str = "") -> None:
        if not os.path.exists(NGINX):
            raise AssertionError(f"{NGINX} is missing: `make proxy-deps` installs it (apt-get install nginx)")
        if stream and not os.path.exists(STREAM_MODULE):
            raise AssertionError(
                f"{STREAM_MODULE} is missing: `make proxy-deps` installs it (apt-get install libnginx-mod-stream)"
            )
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        main = [f"load_module {STREAM_MODULE};"] if stream else []
        main += [
            "worker_processes 1;",
            f"pid {workdir / 'nginx.pid'};",
            f"error_log {workdir / 'error.log'} info;",  # info: nginx logs refused client requests there
            *(["user root;"] if os.geteuid() == 0 else []),
            "events { worker_connections 256; }",
        ]
        if site:
            (workdir / "keyless.conf").write_text(site)
            temp = " ".join(f"{kind}_temp_path {workdir / kind};" for kind in ("client_body", "proxy", "fastcgi"))
            main.append(f"http {{ access_log off; {temp} include {workdir / 'keyless.conf'}; }}")
        if stream:
            (workdir / "keyless-stream.conf").write_text(stream)
            main.append(f"include {workdir / 'keyless-stream.conf'};")
        (workdir / "nginx.conf").write_text("\n".join(main) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Nginx:
        args = [NGINX, "-p", str(self.workdir), "-c", str(self.workdir / "nginx.conf")]
        check = subprocess.run([*args, "-t"], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stderr
        self.process = subprocess.Popen([*args, "-g", "daemon off;"], stderr=subprocess.PIPE)
        return self

    @property
    def error_log(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class TlsProcess(ServerProcess):
    """``keyless serve`` with ``tls_certfile``/``tls_keyfile`` (in its settings), probed over TLS."""

    def __init__(self, workdir: Path, port: int | None = None, *, ca_file: Path, **settings: str) -> None:
        super().__init__(workdir, port, **settings)
        self.ca_file = ca_file
        self.url = f"https://localhost:{self.port}"

    def verify(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


@dataclass
class Proxied:
    cluster: Cluster
    nginx: Nginx
    public: str  # https://localhost:<nginx port>: the public_url, the SDKs' environment URL
    ca_file: Path

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def trust_env(self) -> dict[str, str]:
        """What a developer exports so that the SDKs trust the CA (grpc, requests, Node)."""
        ca = str(self.ca_file)
        return {"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": ca, "REQUESTS_CA_BUNDLE": ca, "NODE_EXTRA_CA_CERTS": ca}

    def serving(self, auth_request_id: str) -> list[int]:
        """Indexes of the processes whose log names this auth request."""
        return [i for i, p in enumerate(self.cluster.processes) if f"auth_request_id={auth_request_id}" in p.output]


def _ready(url: str, context: ssl.SSLContext) -> bool:
    try:
        return httpx.get(f"{url}/health/ready", verify=context, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def layer4(tmp_path: Path, smtp: StallingSmtpSink) -> Iterator[Proxied]:
    """Two keyless processes ending TLS with one certificate, behind the guide's ``stream`` block."""
    port = free_port()
    public = f"https://localhost:{port}"
    tls = ensure_dev_tls(tmp_path)  # a CA and a localhost certificate, as an operator's would be
    server = functools.partial(TlsProcess, ca_file=tls.ca_file)
    with running_cluster(
        tmp_path, smtp, public_url=public, server=server, tls_certfile=str(tls.certfile), tls_keyfile=str(tls.keyfile)
    ) as cluster:
        stream = render(guide_config(LAYER4), [p.port for p in cluster.processes], port, tls.certfile, tls.keyfile)
        nginx = Nginx(tmp_path / "nginx", stream=stream).start()
        proxied = Proxied(cluster, nginx, public, tls.ca_file)
        try:
            wait_until(lambda: _ready(public, proxied.tls()), 15, "nginx did not start")
            yield proxied
        finally:
            nginx.stop()


@pytest.fixture
def layer7(tmp_path: Path, smtp: StallingSmtpSink) -> Iterator[Proxied]:
    """Two cleartext keyless processes trusting nginx's X-Forwarded-For, behind the guide's ``http`` site."""
    port = free_port()
    public = f"https://localhost:{port}"
    tls = ensure_dev_tls(tmp_path)
    with running_cluster(tmp_path, smtp, public_url=public, trusted_proxies='["127.0.0.1"]') as cluster:
        site = render(guide_config(LAYER7), [p.port for p in cluster.processes], port, tls.certfile, tls.keyfile)
        nginx = Nginx(tmp_path / "nginx", site=site).start()
        proxied = Proxied(cluster, nginx, public, tls.ca_file)
        try:
            wait_until(lambda: _ready(public, proxied.tls()), 15, "nginx did not start")
            yield proxied
        finally:
            nginx.stop()


@asynccontextmanager
async def sdk(kind: str, proxied: Proxied) -> AsyncIterator[SdkDriver]:
    """An official SDK's client made as the seeds make it, with the proxy's origin as environment URL."""
    driver = await SdkDriver(kind, proxied.trust_env()).start()
    try:
        cluster = proxied.cluster
        await driver.call(
            "init", env_url=proxied.public, client_id=cluster.client_id, client_secret=cluster.client_secret
        )
        yield driver
    finally:
        await driver.stop()


class Rest:
    """The headless API over HTTP/1.1 with a client-credentials token, as curl or an HTTP client calls it."""

    def __init__(self, proxied: Proxied) -> None:
        self.http = httpx.AsyncClient(base_url=proxied.public, verify=proxied.tls(), http2=False, timeout=10)
        self.cluster = proxied.cluster
        self.auth: dict[str, str] = {}

    async def token(self) -> httpx.Response:
        response = await self.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(self.cluster.client_id, self.cluster.client_secret),
        )
        assert response.status_code == 200, response.text
        self.auth = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return response

    async def send(self, email: str, headers: dict[str, str] | None = None) -> str:
        body = {"email": email, "magiclink_auth_uri": MAGICLINK_URI}
        sent = await self.http.post(SEND, json=body, headers={**self.auth, **(headers or {})})
        assert sent.status_code == 200, sent.text
        return str(sent.json()["auth_request_id"])

    async def verify(self, email: str, auth_request_id: str, code: str) -> None:
        body = {"code": code, "auth_request_id": auth_request_id}
        verified = await self.http.post(VERIFY, json=body, headers=self.auth)
        assert verified.status_code == 200 and verified.json()["email"] == email, verified.text


async def code_for(smtp: StallingSmtpSink, email: str) -> str:
    return (await smtp.wait_for(email))[0].code


async def sdk_send(sk: SdkDriver, smtp: StallingSmtpSink, email: str) -> tuple[str, str]:
    sent = await send(sk, email, magiclink_auth_uri=MAGICLINK_URI)
    return sent.auth_request_id, await code_for(smtp, email)


async def sdk_verify(sk: SdkDriver, email: str, auth_request_id: str, code: str) -> None:
    verified = await verify(sk, code=code, auth_request_id=auth_request_id)
    assert verified.email == email


def alpn_through(proxied: Proxied, offered: list[str]) -> str | None:
    """The protocol a TLS handshake through the proxy's port settles on."""
    port = int(proxied.public.rsplit(":", 1)[1])
    context = proxied.tls()
    context.set_alpn_protocols(offered)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        return tls.selected_alpn_protocol()


async def test_layer4_carries_both_sdks_and_rest_and_survives_a_killed_process(
    layer4: Proxied, smtp: StallingSmtpSink
) -> None:
    cluster = layer4.cluster
    # keyless, not nginx, ends TLS: its ALPN choice (h2 only for gRPC clients) comes through.
    assert alpn_through(layer4, ["h2"]) == "h2"
    assert alpn_through(layer4, ["h2", "http/1.1"]) == "http/1.1"

    rest = Rest(layer4)
    async with sdk("python", layer4) as python, sdk("node", layer4) as node, rest.http:
        token = await rest.token()
        assert token.http_version == "HTTP/1.1" and token.headers["strict-transport-security"]
        # One complete flow per client: the Python SDK's calls carry two authorization headers.
        await sdk_verify(python, "py-1@example.com", *await sdk_send(python, smtp, "py-1@example.com"))
        await sdk_verify(node, "node-1@example.com", *await sdk_send(node, smtp, "node-1@example.com"))
        first = await rest.send("rest-1@example.com", headers={"X-Forwarded-For": "203.0.113.7"})
        await rest.verify("rest-1@example.com", first, await code_for(smtp, "rest-1@example.com"))
        # Connections are balanced round robin: each process served part of the work.
        for process in cluster.processes:
            assert re.search(r"passwordless\.(sent|verified)", process.output), cluster.output()
        # At layer 4 keyless sees nginx's address, and (trusting no proxy) ignores a client's X-Forwarded-For.
        assert re.search(rf"passwordless\.sent auth_request_id={first} .*ip=127\.0\.0\.1\n", cluster.output())
        assert "203.0.113.7" not in cluster.output()

        # Three flows half done: sent, not yet verified. Kill the process that took the Python SDK's send.
        py_request, py_code = await sdk_send(python, smtp, "py-2@example.com")
        node_request, node_code = await sdk_send(node, smtp, "node-2@example.com")
        rest_request = await rest.send("rest-2@example.com")
        rest_code = await code_for(smtp, "rest-2@example.com")
        (victim,) = layer4.serving(py_request)
        survivor = 1 - victim
        cluster.kill(victim)
        started = time.monotonic()

        # Each client's connection to the dead process was closed with it; the clients reconnect through
        # nginx, which now reaches only the survivor. The flows end there.
        await sdk_verify(python, "py-2@example.com", py_request, py_code)
        await sdk_verify(node, "node-2@example.com", node_request, node_code)
        await rest.verify("rest-2@example.com", rest_request, rest_code)
        for email in ("py-3@example.com", "node-3@example.com"):
            driver = python if email.startswith("py") else node
            await sdk_verify(driver, email, *await sdk_send(driver, smtp, email))
        third = await rest.send("rest-3@example.com")
        await rest.verify("rest-3@example.com", third, await code_for(smtp, "rest-3@example.com"))
        recovered = time.monotonic() - started

    survivor_log = cluster.processes[survivor].output
    for request in (py_request, node_request, rest_request):
        assert re.search(rf"passwordless\.verified outcome=SUCCESS auth_request_id={request}\b", survivor_log)
    assert recovered < 20, f"the flows took {recovered:.1f}s to complete after the kill"


async def test_layer7_carries_rest_and_the_node_sdk_and_survives_a_killed_process(
    layer7: Proxied, smtp: StallingSmtpSink
) -> None:
    cluster = layer7.cluster
    rest = Rest(layer7)
    async with sdk("node", layer7) as node, rest.http:
        token = await rest.token()
        assert token.headers["strict-transport-security"]  # keyless knows it is served over https
        for i in range(4):
            email = f"proxied-{i}@example.com"
            request = await rest.send(email)
            await rest.verify(email, request, await code_for(smtp, email))
            await sdk_verify(node, f"grpc-{i}@example.com", *await sdk_send(node, smtp, f"grpc-{i}@example.com"))
        # Round robin: both processes did part of the work (often the send on one, the verify on the other).
        for process in cluster.processes:
            assert re.search(r"passwordless\.(sent|verified)", process.output), process.output[-2000:]

        # The Python SDK's gRPC calls carry two authorization headers, which nginx refuses itself.
        async with sdk("python", layer7) as python:  # its token call is HTTP/1.1 and goes through
            error = await python.fails("send", email="py@example.com", magiclink_auth_uri=MAGICLINK_URI)
        assert error["class"] == "ScalekitInternalServerException", error
        assert "client sent duplicate header line" in layer7.nginx.error_log
        assert not smtp.to("py@example.com")

        cluster.kill(1)
        # A request that was inside the dead process when it died is lost with it (the client sees a 502
        # and retries); the ones after it, from the moment nginx has seen the connections close, are not.
        await asyncio.sleep(0.5)
        for i in range(4):  # every request still succeeds: nginx skips the dead process
            email = f"after-kill-{i}@example.com"
            request = await rest.send(email)
            await rest.verify(email, request, await code_for(smtp, email))
            await sdk_verify(
                node, f"grpc-after-{i}@example.com", *await sdk_send(node, smtp, f"grpc-after-{i}@example.com")
            )
        discovery = await rest.http.get("/.well-known/openid-configuration")
        assert discovery.json()["issuer"] == layer7.public


def http_get(sock: socket.socket) -> bytes:
    """One request on a kept-alive connection; the whole response (headers and Content-Length body)."""
    sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n")
    response = b""
    while b"\r\n\r\n" not in response or len(response.split(b"\r\n\r\n", 1)[1]) < _length(response):
        chunk = sock.recv(65536)
        assert chunk, f"keyless closed the connection: {response!r}"
        response += chunk
    return response


def _length(response: bytes) -> int:
    found = re.search(rb"(?i)\r\ncontent-length: *(\d+)", response)
    return int(found[1]) if found else 0


def test_keyless_outlasts_the_guides_upstream_keepalive(tmp_path: Path) -> None:
    """nginx must close an idle upstream connection before keyless does, or it may reuse one that keyless
    is closing and answer 502: the guide's ``keepalive_timeout`` is below ``keepalive_seconds``, and
    ``keepalive_seconds`` is what keyless's HTTP/1.1 server applies."""
    proxy_idle = [int(s) for s in re.findall(r"keepalive_timeout (\d+)s;", guide_config(LAYER7))]
    assert proxy_idle and max(proxy_idle) < Settings().keepalive_seconds, proxy_idle

    server = ServerProcess(tmp_path, keepalive_seconds="2")
    with server, socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        assert http_get(sock).startswith(b"HTTP/1.1 200")
        time.sleep(1)
        assert http_get(sock).startswith(b"HTTP/1.1 200")  # idle 1 s < 2 s: still open
        idle = time.monotonic()
        assert sock.recv(65536) == b""  # waits until keyless closes the idle connection
        closed_after = time.monotonic() - idle
        assert 1.5 < closed_after < 3.5, f"closed after {closed_after:.1f}s idle, not keepalive_seconds (2 s)"
