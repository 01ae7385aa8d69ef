"""The deployment guide's nginx configuration, run as written in front of two keyless processes.

The ``nginx`` block is read from ``docs/guides/deployment.md``; only the upstream ports, the listen
port and the certificate paths are replaced. ``make test`` installs Debian's nginx when it is missing.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.cluster import MAGICLINK_URI, Cluster, StallingSmtpSink, running_cluster, wait_until
from tests.support.flows import SEND, VERIFY
from tests.support.smtp import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "guides" / "deployment.md"
NGINX = "/usr/sbin/nginx"


def guide_config() -> str:
    blocks = re.findall(r"```nginx\n(.*?)```", GUIDE.read_text(), re.S)
    assert len(blocks) == 1, "the deployment guide should hold exactly one nginx block"
    return str(blocks[0])


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def render(config: str, upstreams: list[int], port: int, cert: Path, key: Path) -> str:
    servers = iter(upstreams)
    config = re.sub(r"server 127\.0\.0\.1:\d+", lambda _: f"server 127.0.0.1:{next(servers)}", config)
    config = config.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl http2;")
    config = config.replace("/etc/keyless/tls/fullchain.pem", str(cert))
    return config.replace("/etc/keyless/tls/privkey.pem", str(key))


class Nginx:
    def __init__(self, workdir: Path, site: str) -> None:
        if not os.path.exists(NGINX):
            raise AssertionError(f"{NGINX} is missing: `make test` installs it (apt-get install nginx)")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "keyless.conf").write_text(site)
        temp = "\n".join(
            f"  {kind}_temp_path {workdir / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (workdir / "nginx.conf").write_text(
            f"worker_processes 1;\npid {workdir / 'nginx.pid'};\nerror_log {workdir / 'error.log'} warn;\n"
            + ("user root;\n" if os.geteuid() == 0 else "")
            + "events { worker_connections 256; }\n"
            + f"http {{\n  access_log off;\n{temp}\n  include {workdir / 'keyless.conf'};\n}}\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Nginx:
        args = [NGINX, "-p", str(self.workdir), "-c", str(self.workdir / "nginx.conf")]
        check = subprocess.run([*args, "-t"], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stderr
        self.process = subprocess.Popen([*args, "-g", "daemon off;"], stderr=subprocess.PIPE)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def behind_nginx(tmp_path: Path, smtp: StallingSmtpSink) -> Iterator[tuple[Cluster, str, Path]]:
    port = free_port()
    public = f"https://localhost:{port}"
    with running_cluster(tmp_path, smtp, public_url=public, trusted_proxies='["127.0.0.1"]') as cluster:
        cert, key = self_signed(tmp_path)
        site = render(guide_config(), [p.port for p in cluster.processes], port, cert, key)
        nginx = Nginx(tmp_path / "nginx", site).start()
        try:
            wait_until(lambda: _ready(public, cert), 15, "nginx did not start")
            yield cluster, public, cert
        finally:
            nginx.stop()


def tls(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def _ready(url: str, cert: Path) -> bool:
    try:
        return httpx.get(f"{url}/health/ready", verify=tls(cert), timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def sign_in(http: httpx.Client, smtp: StallingSmtpSink, auth: dict[str, str], email: str) -> None:
    sent = http.post(SEND, json={"email": email, "magiclink_auth_uri": MAGICLINK_URI}, headers=auth)
    assert sent.status_code == 200, sent.text
    code = smtp.wait_for_sync(email)[0].code
    verified = http.post(VERIFY, json={"code": code, "auth_request_id": sent.json()["auth_request_id"]}, headers=auth)
    assert verified.status_code == 200 and verified.json()["email"] == email, verified.text


def test_the_guides_nginx_config_spreads_sign_ins_and_survives_a_killed_process(
    behind_nginx: tuple[Cluster, str, Path], smtp: StallingSmtpSink
) -> None:
    cluster, public, cert = behind_nginx
    with httpx.Client(base_url=public, verify=tls(cert), http2=False, timeout=10) as http:
        token = http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(cluster.client_id, cluster.client_secret)
        )
        assert token.status_code == 200, token.text
        assert token.headers["strict-transport-security"]  # keyless knows it is served over https
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        for i in range(6):
            sign_in(http, smtp, auth, f"proxied-{i}@example.com")
        # Round robin: both processes did part of the work (often the send on one, the verify on the other).
        for process in cluster.processes:
            assert re.search(r"passwordless\.(sent|verified)", process.output), process.output[-2000:]

        cluster.kill(1)
        # A request that was inside the dead process when it died is lost with it (the client sees a 502
        # and retries); the ones after it, from the moment nginx has seen the connections close, are not.
        time.sleep(0.5)
        for i in range(6):  # every request still succeeds: nginx skips the dead process
            sign_in(http, smtp, auth, f"after-kill-{i}@example.com")
        assert http.get("/.well-known/openid-configuration").json()["issuer"] == public
