"""Development TLS: a CA and a localhost certificate a TLS client verifies, reused across starts."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import stat
from pathlib import Path

from cryptography import x509

from keyless.devtls import ensure_dev_tls, trust_instructions


def test_made_once_then_reused(tmp_path: Path) -> None:
    first = ensure_dev_tls(tmp_path)
    again = ensure_dev_tls(tmp_path)
    assert first == again
    assert first.certfile.read_bytes() == again.certfile.read_bytes()
    for key in (first.keyfile, tmp_path / "tls" / "ca-key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    leaf = x509.load_pem_x509_certificate(first.certfile.read_bytes())
    ca = x509.load_pem_x509_certificate(first.ca_file.read_bytes())
    leaf.verify_directly_issued_by(ca)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]


def test_leaf_renewed_under_the_same_ca(tmp_path: Path) -> None:
    first = ensure_dev_tls(tmp_path)
    ca_before, leaf_before = first.ca_file.read_bytes(), first.certfile.read_bytes()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=340)  # inside the leaf's renewal window
    renewed = ensure_dev_tls(tmp_path, now=later)
    assert renewed.ca_file.read_bytes() == ca_before  # trusted once, stays trusted
    assert renewed.certfile.read_bytes() != leaf_before


def test_instructions_name_the_three_variables(tmp_path: Path) -> None:
    made = ensure_dev_tls(tmp_path)
    text = trust_instructions(made, "https://localhost:8443")
    for name in ("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):
        assert f"export {name}={made.ca_file.resolve()}" in text


async def test_a_tls_client_trusting_the_ca_connects_with_alpn(tmp_path: Path) -> None:
    made = ensure_dev_tls(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(made.certfile, made.keyfile)
    server_ctx.set_alpn_protocols(["h2", "http/1.1"])

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    client_ctx = ssl.create_default_context(cafile=str(made.ca_file))
    client_ctx.set_alpn_protocols(["h2"])
    async with server:
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx, server_hostname="localhost")
        assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
        writer.close()
