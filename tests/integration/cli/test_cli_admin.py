"""Every ``keyless`` command, run as a subprocess the way a person (or CI, with no terminal) runs it."""

from __future__ import annotations

import json
import os
import select
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from keyless.keymaterial import new_key
from tests.support.server import KEYLESS, ServerProcess, keyless_env
from tests.support.smtp import free_port


def cli(workdir: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """Like CI: no terminal, nothing on stdin."""
    return subprocess.run(
        [KEYLESS, *args],
        cwd=workdir,
        env=keyless_env(workdir, **settings),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("cli")
    port = free_port()
    process = ServerProcess(workdir, port, public_url=f"http://127.0.0.1:{port}").start()
    yield process
    process.stop()


def eventually(check: Callable[[], bool], seconds: float = 10) -> bool:
    """keyless processes cache clients for 5 s: a change made by the CLI shows within that."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


def token_status(server: ServerProcess, client_id: str, secret: str) -> int:
    response = httpx.post(
        f"{server.url}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    return response.status_code


def test_clients_show_rotate_secret_and_delete(server: ServerProcess) -> None:
    created = cli(
        server.workdir,
        "clients",
        "create",
        "--name",
        "Shop",
        "--redirect-uri",
        "https://shop.example.com/cb",
        "--post-logout-uri",
        "https://shop.example.com/",
        "--json",
        **server.settings,
    )
    assert created.returncode == 0, created.stderr
    client_id, secret = json.loads(created.stdout).values()
    shown = json.loads(cli(server.workdir, "clients", "show", client_id, "--json", **server.settings).stdout)
    assert shown["name"] == "Shop" and shown["redirect_uris"] == ["https://shop.example.com/cb"]
    assert shown["post_logout_redirect_uris"] == ["https://shop.example.com/"] and shown["public"] is False
    table = cli(server.workdir, "clients", "show", client_id, **server.settings)
    assert table.returncode == 0 and "https://shop.example.com/cb" in table.stdout and secret not in table.stdout
    listed = json.loads(cli(server.workdir, "clients", "list", "--json", **server.settings).stdout)
    assert client_id in {row["client_id"] for row in listed}

    assert token_status(server, client_id, secret) == 200
    rotated = cli(server.workdir, "clients", "rotate-secret", client_id, "--json", **server.settings)
    assert rotated.returncode == 0, rotated.stderr
    new_secret = json.loads(rotated.stdout)["client_secret"]
    assert new_secret != secret
    assert eventually(lambda: token_status(server, client_id, new_secret) == 200)  # within the 5 s client cache
    assert token_status(server, client_id, secret) == 401
    human = cli(server.workdir, "clients", "rotate-secret", client_id, **server.settings)
    assert human.returncode == 0 and "shown once" in human.stdout

    assert "--yes" in one_line_error(cli(server.workdir, "clients", "delete", client_id, **server.settings))
    deleted = cli(server.workdir, "clients", "delete", client_id, "--yes", "--json", **server.settings)
    assert deleted.returncode == 0 and json.loads(deleted.stdout) == {"client_id": client_id, "deleted": True}
    assert eventually(lambda: token_status(server, client_id, new_secret) == 401)
    one_line_error(cli(server.workdir, "clients", "show", client_id, **server.settings), code=1)
    one_line_error(cli(server.workdir, "clients", "delete", client_id, "--yes", **server.settings), code=1)
    one_line_error(cli(server.workdir, "clients", "rotate-secret", "skc_nope", **server.settings), code=1)


def test_public_clients_have_no_secret_to_rotate(server: ServerProcess) -> None:
    created = cli(
        server.workdir, "clients", "create", "--public", "--redirect-uri", "http://127.0.0.1:5/cb", **server.settings
    )
    assert created.returncode == 0 and "public client" in created.stdout
    client_id = created.stdout.split()[3]
    assert "public client" in one_line_error(
        cli(server.workdir, "clients", "rotate-secret", client_id, **server.settings), code=1
    )


def test_keys_list_and_rotate(server: ServerProcess) -> None:
    before = json.loads(cli(server.workdir, "keys", "list", "--json", **server.settings).stdout)
    signing = [k for k in before if k["state"] == "signing"]
    assert len(signing) == 1
    started = time.time()
    rotated = cli(server.workdir, "keys", "rotate", "--json", **server.settings)
    assert rotated.returncode == 0, rotated.stderr
    result = json.loads(rotated.stdout)
    states = {k["kid"]: k for k in result["keys"]}
    new = states[result["kid"]]
    assert new["state"] == "published" and started + 590 <= new["not_before"] <= time.time() + 600
    old = states[signing[0]["kid"]]
    # Still signing until the new key takes over; retired once its longest-lived token (the ID token,
    # 3600 s) has expired, plus a minute of clock skew.
    assert old["state"] == "signing" and old["retire_at"] == new["not_before"] + 3600 + 60
    published = {k["kid"] for k in httpx.get(f"{server.url}/keys").json()["keys"]}
    deadline = time.monotonic() + 40
    while result["kid"] not in published and time.monotonic() < deadline:  # key_refresh_seconds: 30 by default
        time.sleep(0.5)
        published = {k["kid"] for k in httpx.get(f"{server.url}/keys").json()["keys"]}
    assert {result["kid"], old["kid"]} <= published
    table = cli(server.workdir, "keys", "list", **server.settings)
    assert table.returncode == 0 and result["kid"] in table.stdout and "published" in table.stdout
    one_line_error(cli(server.workdir, "keys", "rotate", "--activate-in", "-5", **server.settings))


def test_keys_rotate_needs_a_first_key(tmp_path: Path) -> None:
    assert "serve" in one_line_error(cli(tmp_path, "keys", "rotate"), code=1)


def _add_user(workdir: Path, email: str, user_id: str) -> None:
    import asyncio

    from keyless.core.models import User
    from keyless.storage.oidc_stores import SqlUserStore
    from keyless.storage.sqlite import SqliteDatabase

    async def add() -> None:
        db = SqliteDatabase(str(workdir / "keyless-data" / "keyless.db"))
        try:
            await SqlUserStore(db).record_login(User(user_id, email, email, True, 1_700_000_000.0), 1_700_000_100.0)
        finally:
            await db.close()

    asyncio.run(add())


def test_users_list_show_delete(server: ServerProcess) -> None:
    _add_user(server.workdir, "ada@example.com", "usr_1")
    _add_user(server.workdir, "bob@example.com", "usr_2")
    listed = json.loads(cli(server.workdir, "users", "list", "--json", **server.settings).stdout)
    assert listed["total"] >= 2 and {"usr_1", "usr_2"} <= {u["user_id"] for u in listed["users"]}
    page = json.loads(cli(server.workdir, "users", "list", "--limit", "1", "--json", **server.settings).stdout)
    assert len(page["users"]) == 1
    by_email = json.loads(cli(server.workdir, "users", "show", "ada@EXAMPLE.com", "--json", **server.settings).stdout)
    assert by_email == {
        "user_id": "usr_1",
        "email": "ada@example.com",
        "email_verified": True,
        "created_at": 1_700_000_000.0,
        "last_login_at": 1_700_000_100.0,
    }
    table = cli(server.workdir, "users", "list", **server.settings)
    assert table.returncode == 0 and "bob@example.com" in table.stdout
    assert cli(server.workdir, "users", "show", "usr_2", **server.settings).returncode == 0
    one_line_error(cli(server.workdir, "users", "delete", "usr_2", **server.settings))  # needs --yes
    deleted = cli(server.workdir, "users", "delete", "usr_2", "--yes", "--json", **server.settings)
    assert deleted.returncode == 0 and json.loads(deleted.stdout)["deleted"] is True
    one_line_error(cli(server.workdir, "users", "show", "usr_2", **server.settings), code=1)
    one_line_error(cli(server.workdir, "users", "show", "not an address@", **server.settings))


def test_setup_by_flags_without_a_terminal(server: ServerProcess) -> None:
    env_file = server.workdir / "app" / ".env"
    made = cli(
        server.workdir,
        "setup",
        "--name",
        "Notes",
        "--app-url",
        "http://127.0.0.1:4000/",
        "--env-file",
        str(env_file),
        "--json",
        **server.settings,
    )
    assert made.returncode == 0, made.stderr
    summary = json.loads(made.stdout)
    assert summary["redirect_uris"] == ["http://127.0.0.1:4000/auth/callback"]
    assert summary["magiclink_uris"] == ["http://127.0.0.1:4000/passwordless/verify"]
    assert summary["post_logout_redirect_uris"] == ["http://127.0.0.1:4000/"]
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if line and not line.startswith("#"))
    assert values["KL_ENV_URL"] == server.url and values["KL_CLIENT_ID"] == summary["client_id"]
    assert values["KL_CLIENT_SECRET"] not in made.stdout  # the secret goes to the file only
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert token_status(server, values["KL_CLIENT_ID"], values["KL_CLIENT_SECRET"]) == 200
    # An existing file is not overwritten without --force.
    assert "--force" in one_line_error(cli(server.workdir, "setup", "--env-file", str(env_file), **server.settings))
    again = cli(server.workdir, "setup", "--env-file", str(env_file), "--force", "--no-input", **server.settings)
    assert again.returncode == 0 and "wrote" in again.stdout
    assert "http://localhost:3000/auth/callback" in again.stdout  # the defaults


def test_setup_asks_at_a_terminal(server: ServerProcess) -> None:
    main, child = os.openpty()
    process = subprocess.Popen(
        [KEYLESS, "setup", "--env-file", "tty.env"],
        cwd=server.workdir,
        env=keyless_env(server.workdir, **server.settings),
        stdin=child,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    seen = b""

    def until(text: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 30
        while text not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(main, 4096)
                except OSError:
                    break
        assert text in seen, seen.decode(errors="replace")

    try:
        until(b"Application name")
        os.write(main, b"Diary\n")
        until(b"Application URL")
        os.write(main, b"http://127.0.0.1:4100\n")
        until(b"wrote tty.env")
        assert process.wait(timeout=30) == 0
    finally:
        os.close(main)
        if process.poll() is None:
            process.kill()
    text = (server.workdir / "tty.env").read_text()
    assert "KL_REDIRECT_URI=http://127.0.0.1:4100/auth/callback" in text and "APP_URL=http://127.0.0.1:4100" in text


def _send(server: ServerProcess, email: str) -> None:
    first = json.loads((server.workdir / "keyless-data" / "first-client.json").read_text())
    token = httpx.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(first["client_id"], first["client_secret"]),
    ).json()["access_token"]
    sent = httpx.post(
        f"{server.url}/api/v1/passwordless/email/send",
        json={"email": email},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert sent.status_code == 200, sent.text


def test_mailbox_follows_new_mail(server: ServerProcess) -> None:
    follower = subprocess.Popen(
        [KEYLESS, "mailbox", "--to", "follow@example.com", "--last", "0", "--count", "1", "--timeout", "30", "--json"],
        cwd=server.workdir,
        env=keyless_env(server.workdir, **server.settings),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stderr is not None
        assert "following" in follower.stderr.readline()  # it is watching: mail from now on is new
        _send(server, "follow@example.com")
        out, errors = follower.communicate(timeout=40)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 0, errors
    [line] = out.strip().splitlines()
    message = json.loads(line)
    assert message["to"] == "follow@example.com" and message["auth_request_id"]
    assert any(len(w) == 6 and w.isdigit() for w in message["text"].split())
    shown = cli(server.workdir, "mailbox", "--no-follow", "--to", "follow@example.com", **server.settings)
    assert shown.returncode == 0 and "follow@example.com" in shown.stdout
    waited = cli(server.workdir, "mailbox", "--to", "nobody@example.com", "--count", "1", "--timeout", "1")
    assert waited.returncode == 1 and "Traceback" not in waited.stderr
    assert waited.stderr.strip().splitlines()[-1] == "error: 0 of 1 message(s) arrived within 1 s"
    smtp = cli(server.workdir, "mailbox", "--no-follow", mail_backend="smtp")
    assert "smtp" in one_line_error(smtp)


def test_config_check(tmp_path: Path) -> None:
    dev = cli(tmp_path, "config", "check", "--json")
    assert dev.returncode == 0, dev.stderr
    report = json.loads(dev.stdout)
    assert report["ok"] is True and report["mode"] == "dev" and report["warnings"]
    assert not (tmp_path / "keyless-data").exists()  # checking creates nothing

    production = {
        "mode": "production",
        "public_url": "https://auth.example.com",
        "mail_backend": "smtp",
        "smtp_password": "hunter2-smtp",
        "credential_hmac_keys": json.dumps([new_key()]),
        "encryption_keys": json.dumps([new_key()]),
    }
    ok = cli(tmp_path, "config", "check", **production)
    assert ok.returncode == 0, ok.stderr
    assert "hunter2-smtp" not in ok.stdout and production["credential_hmac_keys"][2:20] not in ok.stdout
    assert "***" in ok.stdout and "https://auth.example.com" in ok.stdout

    unsafe = cli(tmp_path, "config", "check", **{**production, "public_url": "http://auth.example.com"})
    assert "public_url must be https" in one_line_error(unsafe, code=1)
    proxies = cli(tmp_path, "config", "check", "--json", **{**production, "trusted_proxies": '["0.0.0.0/0"]'})
    assert proxies.returncode == 1 and "trusted_proxies" in json.loads(proxies.stdout)["problems"][0]
    bad_key = cli(tmp_path, "config", "check", **{**production, "encryption_keys": '["short"]'})
    assert "encryption_keys" in one_line_error(bad_key, code=1)


def test_db_upgrade_as_json(tmp_path: Path) -> None:
    result = cli(tmp_path, "db", "upgrade", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["status"] == "up to date"


@pytest.mark.parametrize(
    "args",
    [
        ("nope",),
        ("clients", "show"),
        ("users", "list", "--limit", "many"),
        ("keys", "rotate", "--activate-in"),
        ("mailbox", "--interval", "0"),
        ("setup", "--bogus"),
    ],
)
def test_bad_arguments_are_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    line = one_line_error(cli(tmp_path, *args))
    assert len(line) > len("error: ") + 10


def test_serve_reports_listening_as_json(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [KEYLESS, "serve", "--json"],
        cwd=tmp_path,
        env=keyless_env(tmp_path, port=str(port)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        event = None
        for line in process.stdout:  # the first-client banner comes first, then the JSON line
            if line.startswith("{"):
                event = json.loads(line)
                break
        assert event == {"event": "listening", "public_url": "http://localhost:8080", "mode": "dev"}
    finally:
        process.terminate()
        process.wait(timeout=15)
