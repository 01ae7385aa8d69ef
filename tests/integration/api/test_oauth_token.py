"""``/oauth/token`` (client_credentials) and the JWKS."""

from __future__ import annotations

import base64

import pytest

from tests.support.api import Api

PRIVATE_PARAMS = {"d", "p", "q", "dp", "dq", "qi"}


def form(api: Api, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": api.client_id,
        "client_secret": api.client_secret,
        **extra,
    }


async def test_form_credentials(api: Api) -> None:
    response = await api.http.post("/oauth/token", data=form(api))
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 899 and body["scope"] == "passwordless"
    assert "refresh_token" not in body and "id_token" not in body
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"


async def test_basic_credentials(api: Api) -> None:
    basic = base64.b64encode(f"{api.client_id}:{api.client_secret}".encode()).decode()
    response = await api.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 200


async def test_wrong_secret_via_form_and_basic(api: Api) -> None:
    wrong = await api.http.post("/oauth/token", data=form(api, client_secret="nope"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert "www-authenticate" not in wrong.headers
    basic = base64.b64encode(f"{api.client_id}:nope".encode()).decode()
    wrong_basic = await api.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert wrong_basic.status_code == 401 and wrong_basic.headers["www-authenticate"].startswith("Basic")
    unknown = await api.http.post("/oauth/token", data=form(api, client_id="skc_0"))
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"


async def test_a_stale_bearer_header_is_ignored(api: Api) -> None:
    response = await api.http.post(
        "/oauth/token", data=form(api), headers={"Authorization": "Bearer expired.stale.token"}
    )
    assert response.status_code == 200
    keys = await api.http.get("/keys", headers={"Authorization": "Bearer expired.stale.token"})
    assert keys.status_code == 200


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        ({"grant_type": "password", "username": "a", "password": "b"}, 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "scope": "admin"}, 400, "invalid_scope"),
        ({}, 400, "invalid_request"),
    ],
)
async def test_grant_errors(api: Api, data: dict[str, str], status: int, error: str) -> None:
    body = {"client_id": api.client_id, "client_secret": api.client_secret, **data}
    response = await api.http.post("/oauth/token", data=body)
    assert (response.status_code, response.json()["error"]) == (status, error)
    assert response.headers["cache-control"] == "no-store"


async def test_secret_in_query_string_is_refused(api: Api) -> None:
    response = await api.http.post(
        f"/oauth/token?client_id={api.client_id}&client_secret={api.client_secret}",
        data={"grant_type": "client_credentials"},
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


async def test_json_body_is_refused(api: Api) -> None:
    response = await api.http.post("/oauth/token", json=form(api))
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("path", ["/keys", "/.well-known/jwks.json"])
async def test_jwks_is_public_rsa_only(api: Api, path: str) -> None:
    keys = (await api.http.get(path)).json()["keys"]
    assert keys
    for key in keys:
        assert key["kty"] == "RSA" and key["use"] == "sig" and key["alg"] == "RS256"
        assert key["kid"].startswith("snk_") and not PRIVATE_PARAMS & set(key)


async def test_private_key_is_sealed_at_rest(api: Api) -> None:
    rows = await api.container.db.fetch_all("SELECT sealed_private_key FROM signing_keys")
    assert rows
    for row in rows:
        blob = bytes(row["sealed_private_key"])
        assert b"PRIVATE KEY" not in blob and b"BEGIN" not in blob
