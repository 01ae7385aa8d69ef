"""The FastAPI dependency and the Flask decorator, admitting and refusing real keyless access tokens."""

from __future__ import annotations

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from flask import Flask

from keyless_sdk import AccessTokenClaims, AsyncKeylessClient, KeylessClient
from keyless_sdk.fastapi import require_access_token as fastapi_require
from keyless_sdk.flask import current_claims
from keyless_sdk.flask import require_access_token as flask_require
from tests.support.server import ServerProcess


@pytest.fixture
def token(server: ServerProcess, credentials: tuple[str, str]) -> str:
    response = httpx.post(f"{server.url}/oauth/token", data={"grant_type": "client_credentials"}, auth=credentials)
    return str(response.json()["access_token"])


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_fastapi_dependency(server: ServerProcess, credentials: tuple[str, str], token: str, flavour: str) -> None:
    keyless = (
        KeylessClient(server.url, *credentials) if flavour == "sync" else AsyncKeylessClient(server.url, *credentials)
    )
    app = FastAPI()

    @app.get("/me")
    async def me(claims: AccessTokenClaims = Depends(fastapi_require(keyless))) -> dict[str, str]:  # noqa: B008
        return {"sub": claims.subject}

    @app.get("/admin")
    async def admin(
        claims: AccessTokenClaims = Depends(fastapi_require(keyless, required_scopes=["admin"])),  # noqa: B008
    ) -> dict[str, str]:
        return {"sub": claims.subject}

    with TestClient(app) as http:
        ok = http.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200 and ok.json() == {"sub": credentials[0]}
        missing = http.get("/me")
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        bad = http.get("/me", headers={"Authorization": f"Bearer {token[:-3]}xyz"})
        assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
        scope = http.get("/admin", headers={"Authorization": f"Bearer {token}"})
        assert (
            scope.status_code == 403
            and 'error="insufficient_scope", scope="admin"' in scope.headers["www-authenticate"]
        )


def test_flask_decorator(server: ServerProcess, credentials: tuple[str, str], token: str) -> None:
    keyless = KeylessClient(server.url, *credentials)
    app = Flask(__name__)

    @app.get("/me")
    @flask_require(keyless)
    def me() -> dict[str, str]:
        return {"sub": current_claims().subject}

    @app.get("/admin")
    @flask_require(keyless, required_scopes=["admin"])
    def admin() -> dict[str, str]:
        return {"sub": current_claims().subject}

    http = app.test_client()
    ok = http.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.json == {"sub": credentials[0]}
    missing = http.get("/me")
    assert missing.status_code == 401 and missing.json is not None and missing.json["error"] == "invalid_request"
    bad = http.get("/me", headers={"Authorization": "Bearer e30.e30.AAAA"})
    assert bad.status_code == 401 and bad.json is not None and bad.json["error"] == "invalid_token"
    scope = http.get("/admin", headers={"Authorization": f"Bearer {token}"})
    assert scope.status_code == 403 and scope.json is not None and scope.json["error"] == "insufficient_scope"
