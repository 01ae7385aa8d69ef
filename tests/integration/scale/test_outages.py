"""Redis or PostgreSQL going away under running processes: 503 with Retry-After, nothing half-done,
and service back without a restart.

The outages are real but private: a ``redis-server`` this test starts and kills, and a TCP proxy in
front of PostgreSQL that this test cuts. The machine's shared servers keep running for other tests.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.support.cluster import MAGICLINK_URI, REDIRECT_URI, StallingSmtpSink, running_cluster, wait_until
from tests.support.databases import PG_DSN
from tests.support.flows import SEND, VERIFY, Browser, csrf_of, error_code, send, start_sign_in
from tests.support.redis import PrivateRedis
from tests.support.tcpproxy import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert "Traceback" not in response.text and "asyncpg" not in response.text and "redis" not in response.text.lower()


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health/ready", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


async def test_redis_down_fails_closed_on_every_process_then_recovers(tmp_path: Path, smtp: StallingSmtpSink) -> None:
    with (
        PrivateRedis(tmp_path / "redis") as redis_server,
        running_cluster(tmp_path, smtp, redis_url=redis_server.url) as cluster,
    ):
        auth = cluster.token()
        sent = send(cluster, cluster.urls[0], auth, "before@example.com")
        code = (await smtp.wait_for("before@example.com"))[0].code

        redis_server.stop()
        for url in cluster.urls:
            body = {"email": f"during-{url[-5:]}@example.com", "magiclink_auth_uri": MAGICLINK_URI}
            refused = httpx.post(f"{url}{SEND}", json=body, headers=auth, timeout=10)
            assert_unavailable(refused)
            assert error_code(refused) == "SERVICE_UNAVAILABLE"
            guess = httpx.post(
                f"{url}{VERIFY}", json={"code": code, "auth_request_id": sent["auth_request_id"]}, headers=auth
            )
            assert_unavailable(guess)  # no limit check, no guess: never unlimited attempts
            token = httpx.post(
                f"{url}/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(cluster.client_id, cluster.client_secret),
            )
            assert token.status_code == 503 and "retry-after" in token.headers
            assert not ready(url)
        await asyncio.sleep(1.5)
        assert [m for m in smtp.messages if m.envelope_to[0].startswith("during-")] == []

        redis_server.start()  # same port; every process reconnects by itself
        for url in cluster.urls:
            wait_until(lambda url=url: ready(url), 15, f"{url} did not become ready again")
        verified = httpx.post(
            f"{cluster.urls[1]}{VERIFY}", json={"code": code, "auth_request_id": sent["auth_request_id"]}, headers=auth
        )
        assert verified.status_code == 200, verified.text  # the refused guesses consumed nothing
        send(cluster, cluster.urls[1], auth, "after@example.com")
        await smtp.wait_for("after@example.com")


async def test_postgres_down_answers_503_consumes_nothing_and_recovers(tmp_path: Path, smtp: StallingSmtpSink) -> None:
    host_port = PG_DSN.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    with TcpProxy(host, int(port)) as proxy:
        dsn = PG_DSN.replace(host_port, f"127.0.0.1:{proxy.port}")
        with running_cluster(tmp_path, smtp, count=1, database_url=dsn) as cluster:
            (url,) = cluster.urls
            auth = cluster.token()
            sent = send(cluster, url, auth, "ft03@example.com")
            code = (await smtp.wait_for("ft03@example.com"))[0].code
            browser = Browser()
            page_path = start_sign_in(cluster, browser, url, "hosted-ft03@example.com")
            hosted_code = (await smtp.wait_for("hosted-ft03@example.com"))[0].code
            code_page = browser.get(f"{url}{page_path}/code")
            csrf = csrf_of(code_page.text)

            proxy.cut()
            verify = {"code": code, "auth_request_id": sent["auth_request_id"]}
            assert_unavailable(httpx.post(f"{url}{VERIFY}", json=verify, headers=auth))
            body = {"email": "ft03-again@example.com", "magiclink_auth_uri": MAGICLINK_URI}
            assert_unavailable(httpx.post(f"{url}{SEND}", json=body, headers=auth))
            assert_unavailable(httpx.get(f"{url}/health/ready"))
            assert httpx.get(f"{url}/health/live").status_code == 200
            hosted = browser.post(f"{url}{page_path}/code", {"csrf": csrf, "code": hosted_code})
            assert hosted.status_code == 503 and "location" not in hosted.headers  # never a session
            assert "keyless_session" not in hosted.headers.get("set-cookie", "")

            proxy.restore()
            wait_until(lambda: ready(url), 15, "keyless did not reconnect to PostgreSQL")
            verified = httpx.post(f"{url}{VERIFY}", json=verify, headers=auth)
            assert verified.status_code == 200, verified.text  # the failed call consumed nothing
            done = browser.post(f"{url}{page_path}/code", {"csrf": csrf, "code": hosted_code})
            assert done.status_code == 303 and done.headers["location"].startswith(REDIRECT_URI), done.text
            # No request ended as an unhandled error (asyncpg's own pool may log a retry warning).
            assert "unhandled error" not in cluster.output()
