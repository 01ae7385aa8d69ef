"""Clients and signing keys changed through one process (or the CLI) are seen by every process."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import httpx
import pytest

from tests.support.cluster import MAGICLINK_URI, Cluster, StallingSmtpSink, running_cluster, wait_until
from tests.support.flows import send
from tests.support.server import run_cli

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def cli(cluster: Cluster, *args: str) -> dict[str, str]:
    done = run_cli(cluster.workdir, *args, "--json", **cluster.settings)
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout)
    return result


def kids(url: str) -> set[str]:
    return {k["kid"] for k in httpx.get(f"{url}/keys").json()["keys"]}


def kid_of(token_headers: dict[str, str]) -> str:
    head = token_headers["Authorization"].split()[1].split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"])


def test_a_client_created_elsewhere_works_on_every_process_at_once(cluster: Cluster) -> None:
    created = cli(cluster, "clients", "create", "--name", "late app", "--magiclink-uri", MAGICLINK_URI)
    late = Cluster(cluster.workdir, cluster.settings, cluster.processes, created["client_id"], created["client_secret"])
    for issuer in cluster.urls:
        auth = late.token(issuer)
        for url in cluster.urls:
            send(late, url, auth, f"late-{issuer[-5:]}-{url[-5:]}@example.com")


def test_rotation_publishes_everywhere_before_signing_and_old_tokens_keep_working(cluster: Cluster) -> None:
    (old_kid,) = kids(cluster.urls[0])
    old_auth = cluster.token()
    rotated = cli(cluster, "keys", "rotate", "--activate-in", "6")
    started = time.monotonic()
    # Every process reloads within key_refresh_seconds (2 s here) and publishes the new key...
    for url in cluster.urls:
        wait_until(lambda url=url: kids(url) == {old_kid, rotated["kid"]}, 5, f"{url} did not publish the new key")
    # ...while still signing with the old one until the new key's not_before.
    if time.monotonic() - started < 5:
        assert {kid_of(cluster.token(url)) for url in cluster.urls} == {old_kid}
    wait_until(lambda: time.monotonic() - started > 6.5, 10, "")
    assert {kid_of(cluster.token(url)) for url in cluster.urls} == {rotated["kid"]}
    for url in cluster.urls:  # tokens signed before the rotation still work everywhere
        send(cluster, url, old_auth, f"old-token-{url[-5:]}@example.com")


def test_a_key_unknown_to_a_process_is_loaded_when_a_token_names_it(tmp_path: Path, smtp: StallingSmtpSink) -> None:
    # Periodic reloads effectively off: only the unknown-kid path can teach p0 the new key.
    with running_cluster(tmp_path, smtp, key_refresh_seconds="3600") as cluster:
        rotated = cli(cluster, "keys", "rotate", "--activate-in", "0")  # careless: signs at once
        assert rotated["kid"] not in kids(cluster.urls[0])
        newcomer = cluster.add()  # loads the new key at start and signs with it
        auth = cluster.token(newcomer.url)
        assert kid_of(auth) == rotated["kid"]
        send(cluster, cluster.urls[0], auth, "unknown-kid@example.com")
        assert rotated["kid"] in kids(cluster.urls[0])
