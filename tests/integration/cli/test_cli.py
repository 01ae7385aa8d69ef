"""The ``keyless`` command, run as a subprocess like a person runs it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.support.databases import PG_DSN, drop_pg_schema
from tests.support.server import run_cli


def test_clients_create_and_list_as_json(tmp_path: Path) -> None:
    created = run_cli(
        tmp_path,
        "clients",
        "create",
        "--name",
        "Shop",
        "--redirect-uri",
        "https://shop.example.com/cb",
        "--magiclink-uri",
        "https://shop.example.com/verify",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    client = json.loads(created.stdout)
    assert client["client_id"].startswith("skc_") and len(client["client_secret"]) >= 43
    listed = run_cli(tmp_path, "clients", "list", "--json")
    assert listed.returncode == 0
    rows = json.loads(listed.stdout)
    assert rows == [
        {
            "client_id": client["client_id"],
            "name": "Shop",
            "redirect_uris": ["https://shop.example.com/cb"],
            "magiclink_uris": ["https://shop.example.com/verify"],
            "post_logout_redirect_uris": [],
            "public": False,
            "created_at": rows[0]["created_at"],
        }
    ]
    assert client["client_secret"] not in listed.stdout
    table = run_cli(tmp_path, "clients", "list")
    assert table.returncode == 0 and "Shop" in table.stdout


@pytest.mark.parametrize(
    "uri", ["http://shop.example.com/cb", "https://shop.example.com/cb#frag", "javascript:alert(1)"]
)
def test_bad_uris_are_one_clear_line(tmp_path: Path, uri: str) -> None:
    result = run_cli(tmp_path, "clients", "create", "--redirect-uri", uri, mode="production", **_prod())
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "error:" in result.stderr


def _prod() -> dict[str, str]:
    from keyless.keymaterial import new_key

    return {
        "public_url": "https://auth.example.com",
        "mail_backend": "smtp",
        "credential_hmac_keys": json.dumps([new_key()]),
        "encryption_keys": json.dumps([new_key()]),
    }


def test_unknown_option_and_bad_setting(tmp_path: Path) -> None:
    unknown = run_cli(tmp_path, "clients", "create", "--nope")
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    bad = run_cli(tmp_path, "db", "upgrade", port="not-a-port")
    assert bad.returncode == 2 and "KEYLESS_PORT" in bad.stderr and "Traceback" not in bad.stderr
    bad_url = run_cli(tmp_path, "db", "upgrade", database_url="mysql://x")
    assert bad_url.returncode == 2 and "database_url" in bad_url.stderr


def test_db_upgrade_on_postgresql(tmp_path: Path) -> None:
    schema = "kt_cli_upgrade"
    try:
        for _ in range(2):  # idempotent
            result = run_cli(tmp_path, "db", "upgrade", database_url=PG_DSN, database_schema=schema)
            assert result.returncode == 0, result.stderr
        listed = run_cli(tmp_path, "clients", "list", "--json", database_url=PG_DSN, database_schema=schema)
        assert listed.returncode == 0 and json.loads(listed.stdout) == []
    finally:
        asyncio.run(drop_pg_schema(schema))


def test_unreachable_postgresql_is_one_line(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "db", "upgrade", database_url="postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "database" in result.stderr.lower()
