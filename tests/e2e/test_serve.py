"""README command 1 as a user runs it: a real ``keyless serve`` process, then the curl walkthrough."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx

from tests.support.server import ServerProcess, run_cli


def read_code(base: str, email: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        messages = httpx.get(f"{base}/dev/mailbox/messages", params={"to": email, "limit": 1}).json()["messages"]
        if messages:
            found = re.search(r"\b\d{6}\b", messages[0]["text"])
            assert found
            return found.group()
        time.sleep(0.05)
    raise AssertionError("no mail in the dev mailbox")


def test_first_start_then_the_headless_walkthrough(tmp_path: Path) -> None:
    with ServerProcess(tmp_path) as server:
        first = json.loads((tmp_path / "keyless-data" / "first-client.json").read_text())
        assert first["client_id"] in server.output and first["client_secret"] in server.output
        assert (tmp_path / "keyless-data" / "keyless.db").exists()
        token = httpx.post(
            f"{server.url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": first["client_id"],
                "client_secret": first["client_secret"],
            },
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        sent = httpx.post(
            f"{server.url}/api/v1/passwordless/email/send",
            json={"email": "john.doe@example.com", "state": "jAy-state1", "template": "SIGNIN"},
            headers=auth,
        ).json()
        code = read_code(server.url, "john.doe@example.com")
        verified = httpx.post(
            f"{server.url}/api/v1/passwordless/email/verify",
            json={"code": code, "auth_request_id": sent["auth_request_id"]},
            headers=auth,
        )
        assert verified.status_code == 200 and verified.json()["email"] == "john.doe@example.com"
        page = httpx.get(f"{server.url}/dev/mailbox")
        assert page.status_code == 200 and "john.doe@example.com" in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        kids = {k["kid"] for k in httpx.get(f"{server.url}/keys").json()["keys"]}

    # A restart keeps the signing key, the client and the dev secrets: old tokens still work.
    with ServerProcess(tmp_path, port=server.port) as again:
        assert {k["kid"] for k in httpx.get(f"{again.url}/keys").json()["keys"]} == kids
        assert "created its first API client" not in again.output.split("Started server process")[-1]
        response = httpx.post(
            f"{again.url}/api/v1/passwordless/email/send", json={"email": "jane@example.com"}, headers=auth
        )
        assert response.status_code == 200


def test_magic_link_variant(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, passwordless_type="LINK_OTP") as server:
        first = json.loads((tmp_path / "keyless-data" / "first-client.json").read_text())
        token = httpx.post(
            f"{server.url}/oauth/token",
            auth=(first["client_id"], first["client_secret"]),
            data={"grant_type": "client_credentials"},
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        sent = httpx.post(
            f"{server.url}/api/v1/passwordless/email/send",
            json={"email": "link@example.com", "magiclink_auth_uri": first["magiclink_uris"][0]},
            headers=auth,
        )
        assert sent.status_code == 200 and sent.json()["passwordless_type"] == "LINK_OTP"
        read_code(server.url, "link@example.com")
        text = httpx.get(f"{server.url}/dev/mailbox/messages", params={"to": "link@example.com"}).json()["messages"][0][
            "text"
        ]
        link = re.search(r"http://localhost:3000/passwordless/verify\?link_token=([A-Za-z0-9_-]+)", text)
        assert link, text
        verified = httpx.post(
            f"{server.url}/api/v1/passwordless/email/verify", json={"link_token": link.group(1)}, headers=auth
        )
        assert verified.status_code == 200 and verified.json()["passwordless_type"] == "LINK_OTP"


def test_production_mode_refuses_generated_secrets_and_the_dev_mailbox(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "serve", mode="production", public_url="https://auth.example.com")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    message = result.stderr.strip()
    assert "credential_hmac_keys" in message and "devmailbox" in message
    assert len(message.splitlines()) <= 2


def test_encryption_key_rotation_reseals_the_signing_keys(tmp_path: Path) -> None:
    from keyless.keymaterial import new_key

    old, new, hmac_key = new_key(), new_key(), new_key()
    common = {"credential_hmac_keys": json.dumps([hmac_key])}
    with ServerProcess(tmp_path, encryption_keys=json.dumps([old]), **common) as server:
        kids = {k["kid"] for k in httpx.get(f"{server.url}/keys").json()["keys"]}
    # Rotate: the new key first, the old one kept for one start; then the old one can go.
    with ServerProcess(tmp_path, port=server.port, encryption_keys=json.dumps([new, old]), **common):
        pass
    with ServerProcess(tmp_path, port=server.port, encryption_keys=json.dumps([new]), **common) as again:
        assert {k["kid"] for k in httpx.get(f"{again.url}/keys").json()["keys"]} == kids
    # Dropping a key that still seals something is one clear line, not a trace.
    result = run_cli(tmp_path, "serve", encryption_keys=json.dumps([new_key()]), **common)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot be opened" in result.stderr


def test_misspelled_settings_are_refused(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "serve", pasword_type="LINK")
    assert result.returncode == 2 and "KEYLESS_PASWORD_TYPE" in result.stderr
    missing = run_cli(tmp_path, "db", "upgrade", config_file=str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
