"""One port, both protocols, as a real ``keyless serve`` process serves them: HTTP/1.1 and gRPC over
cleartext (h2c prior knowledge) and over TLS (ALPN), and idle HTTP/2 pings tolerated."""

from __future__ import annotations

import json
import socket
import ssl
import struct
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import httpx

from keyless.grpc.proto import passwordless_pb2 as pb
from tests.e2e.scalekit.conftest import MAGIC_LINK_URI, StartKeyless
from tests.support.scalekit import Keyless
from tests.support.server import run_cli

RESEND = "/scalekit.v1.auth.passwordless.PasswordlessService/ResendPasswordlessEmail"
SEND = "/scalekit.v1.auth.passwordless.PasswordlessService/SendPasswordlessEmail"


def token(keyless: Keyless, verify: ssl.SSLContext | bool = True) -> str:
    response = httpx.post(
        f"{keyless.server.url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": keyless.client_id,
            "client_secret": keyless.client_secret,
        },
        verify=verify,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


class H2Client:
    """A bare HTTP/2 client over one socket, to see frames the SDKs' libraries hide (PING, GOAWAY)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(10)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.flush()
        self.events: list[h2.events.Event] = []

    def flush(self) -> None:
        self.sock.sendall(self.conn.data_to_send())

    def read_until(self, done: type[h2.events.Event], stream_id: int | None = None) -> None:
        while not any(isinstance(e, done) and getattr(e, "stream_id", stream_id) == stream_id for e in self.events):
            data = self.sock.recv(65536)
            assert data, "the server closed the connection"
            self.events.extend(self.conn.receive_data(data))
            self.flush()

    def ping_idle(self, count: int) -> None:
        """PINGs with no call in flight, as the Python SDK's keepalive sends them every 60 s."""
        for n in range(count):
            self.conn.ping(struct.pack(">Q", n))
            self.flush()
            self.read_until(h2.events.PingAckReceived)
            self.events = [e for e in self.events if not isinstance(e, h2.events.PingAckReceived)]

    def grpc(self, authority: str, bearer: str, message: bytes, path: str = RESEND) -> dict[bytes, bytes]:
        stream = self.conn.get_next_available_stream_id()
        headers = [
            (":method", "POST"),
            (":scheme", "https" if isinstance(self.sock, ssl.SSLSocket) else "http"),
            (":authority", authority),
            (":path", path),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("grpc-timeout", "20000m"),
            ("authorization", f"Bearer {bearer}"),
        ]
        self.conn.send_headers(stream, headers)
        self.conn.send_data(stream, b"\x00" + struct.pack(">I", len(message)) + message, end_stream=True)
        self.flush()
        self.read_until(h2.events.StreamEnded, stream)
        # grpc-status is in the trailers, or in the only HEADERS frame of a "Trailers-Only" response.
        received = (h2.events.ResponseReceived, h2.events.TrailersReceived)
        blocks = [e.headers for e in self.events if isinstance(e, received) and e.stream_id == stream]
        return {bytes(k): bytes(v) for block in blocks for k, v in block}


def unknown_resend() -> bytes:
    return pb.ResendPasswordlessRequest(auth_request_id="no-such-request").SerializeToString()


def test_cleartext_port_serves_http1_and_h2c(start_keyless: StartKeyless) -> None:
    keyless = start_keyless(tls=False)
    bearer = token(keyless)  # HTTP/1.1
    keys = httpx.get(f"{keyless.server.url}/keys")  # public: no bearer
    assert keys.status_code == 200 and all(k["kid"] and k["kty"] == "RSA" for k in keys.json()["keys"])

    with socket.create_connection(("127.0.0.1", keyless.server.port)) as sock:
        client = H2Client(sock)  # prior knowledge: the HTTP/2 preface straight away
        client.ping_idle(5)
        trailers = client.grpc(f"localhost:{keyless.server.port}", bearer, unknown_resend())
        assert trailers[b"grpc-status"] == b"5"  # authenticated; the request id is unknown
        client.ping_idle(3)
        assert not any(isinstance(e, h2.events.ConnectionTerminated) for e in client.events)
        again = client.grpc(f"localhost:{keyless.server.port}", bearer, unknown_resend())
        assert again[b"grpc-status"] == b"5"
        # The relayed call is attributed to the real client address (per-IP limits, audit log).
        request = pb.SendPasswordlessRequest(email="relay@example.com", magiclink_auth_uri=MAGIC_LINK_URI)
        sent = client.grpc(f"localhost:{keyless.server.port}", bearer, request.SerializeToString(), path=SEND)
        assert sent[b"grpc-status"] == b"0"
    assert "passwordless.sent" in keyless.server.output
    assert "ip=127.0.0.1" in keyless.server.output and "ip=unknown" not in keyless.server.output


def test_tls_port_negotiates_h2_and_http1_by_alpn(start_keyless: StartKeyless) -> None:
    keyless = start_keyless(tls=True)
    context = keyless.server.verify()
    assert isinstance(context, ssl.SSLContext)
    bearer = token(keyless, verify=context)
    # What `keyless serve --dev-tls` tells the developer: the CA file and the three variables.
    ca = keyless.trust_env()["REQUESTS_CA_BUNDLE"]
    for name in ("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):
        assert f"export {name}={Path(ca).resolve()}" in keyless.server.output
    # The token endpoint ignores an Authorization header, even a stale one (the Python SDK sends it).
    stale = httpx.post(
        f"{keyless.server.url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": keyless.client_id,
            "client_secret": keyless.client_secret,
        },
        headers={"Authorization": "Bearer expired.or.garbage"},
        verify=context,
    )
    assert stale.status_code == 200

    # A client offering both (browsers, curl) gets HTTP/1.1: HTTP/2 on this port is for gRPC.
    for offered, chosen in ((["h2"], "h2"), (["http/1.1"], "http/1.1"), (["h2", "http/1.1"], "http/1.1")):
        ctx = ssl.create_default_context(cafile=keyless.trust_env()["REQUESTS_CA_BUNDLE"])
        ctx.set_alpn_protocols(offered)
        with (
            socket.create_connection(("127.0.0.1", keyless.server.port)) as raw,
            ctx.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            assert tls.selected_alpn_protocol() == chosen
            if chosen == "h2":
                client = H2Client(tls)
                client.ping_idle(2)
                assert client.grpc(f"localhost:{keyless.server.port}", bearer, unknown_resend())[b"grpc-status"] == b"5"
            else:
                tls.sendall(b"GET /keys HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                response = b""
                while chunk := tls.recv(65536):
                    response += chunk
                assert response.startswith(b"HTTP/1.1 200")
                assert json.loads(response.split(b"\r\n\r\n", 1)[1])["keys"]


def test_dev_tls_is_refused_in_production(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "serve", "--dev-tls", mode="production", timeout=30)
    assert result.returncode != 0
    assert "dev_tls is for development only" in result.stderr


def test_certificate_and_key_go_together(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "serve", "--certfile", str(tmp_path / "cert.pem"), timeout=30)
    assert result.returncode != 0 and "tls_certfile and tls_keyfile go together" in result.stderr
