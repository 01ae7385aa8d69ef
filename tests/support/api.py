"""The whole application in process: real database, real SMTP server, HTTP through the ASGI stack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from keyless.clock import ManualClock
from keyless.container import Container, build_container
from keyless.web.app import create_app
from tests.support.settings import make_settings
from tests.support.smtp import SmtpSink

MAGIC = "https://app.example.com/passwordless/verify"


@dataclass
class Api:
    http: httpx.AsyncClient
    container: Container
    clock: ManualClock
    smtp: SmtpSink
    client_id: str
    client_secret: str
    token: str

    async def token_for(self, client_id: str, secret: str) -> str:
        response = await self.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def post(self, path: str, body: Any, token: str | None = None, **kw: Any) -> httpx.Response:
        return await self.http.post(f"/api/v1/passwordless/email/{path}", json=body, headers=self.auth(token), **kw)

    async def new_client(self) -> tuple[str, str]:
        client, secret = await self.container.registry.register("other", redirect_uris=[], magiclink_uris=[MAGIC])
        return client.id, secret


async def make_api(
    tmp_path: Path, database_url: tuple[str, str | None], smtp: SmtpSink, clock: ManualClock, **settings: Any
) -> AsyncIterator[Api]:
    url, schema = database_url
    config = make_settings(
        tmp_path / "data",
        url,
        database_schema=schema,
        mail_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        mail_from="keyless@example.com",
        **settings,
    )
    container = build_container(config, clock=clock)
    await container.start()
    client, secret = await container.registry.register(
        "test app", redirect_uris=["https://app.example.com/cb"], magiclink_uris=[MAGIC]
    )
    app = create_app(container, manage_lifecycle=False)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8080") as http:
        api = Api(http, container, clock, smtp, client.id, secret, "")
        api.token = await api.token_for(client.id, secret)
        try:
            yield api
        finally:
            await container.stop()
