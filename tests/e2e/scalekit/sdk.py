"""The seeds' SDK calls, one helper per call, for either official SDK.

The Python and Node SDKs name their arguments differently (``magiclink_auth_uri=`` vs
``{ magiclinkAuthUri }``) and return differently shaped objects (proto messages via ``resp[0]`` vs
protobuf-es objects with BigInt ``expiresAt``); these helpers make each call the way that SDK's seed
snippet does and bring the answer to one shape for the assertions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from tests.support.scalekit import Keyless, SdkDriver

TEMPLATE_NAMES = {0: "UNSPECIFIED", 1: "SIGNIN", 2: "SIGNUP"}
TYPE_NAMES = {1: "OTP", 2: "LINK", 3: "LINK_OTP"}

# The exception class each SDK raises for a gRPC status (spec 2.4); the names are the same in both.
BAD_REQUEST = "ScalekitBadRequestException"
TOO_MANY_REQUESTS = "ScalekitTooManyRequestsException"


@asynccontextmanager
async def sdk_client(kind: str, keyless: Keyless) -> AsyncIterator[SdkDriver]:
    """The client constructed exactly as the seeds do: (environment URL, client id, client secret)."""
    driver = await SdkDriver(kind, keyless.trust_env()).start()
    try:
        await driver.call(
            "init", env_url=keyless.env_url, client_id=keyless.client_id, client_secret=keyless.client_secret
        )
        yield driver
    finally:
        await driver.stop()


@dataclass(frozen=True)
class Sent:
    auth_request_id: str
    expires_at: int
    expires_in: int
    passwordless_type: str


@dataclass(frozen=True)
class Verified:
    email: str
    state: str | None
    template: str | None
    passwordless_type: str


def _sent(kind: str, r: dict[str, Any]) -> Sent:
    if kind == "python":
        assert r["expires_at_type"] == "int"  # int64 arrives as a Python int
        return Sent(r["auth_request_id"], r["expires_at_raw"], r["expires_in"], r["passwordless_type"])
    assert set(r["expiresAt"]) == {"bigint"}  # int64 arrives as a JS BigInt
    return Sent(r["authRequestId"], int(r["expiresAt"]["bigint"]), r["expiresIn"], TYPE_NAMES[r["passwordlessType"]])


def _send_args(kind: str, email: str, options: dict[str, Any]) -> dict[str, Any]:
    if kind == "python":
        return {"email": email, **options}
    camel = {"".join(w.capitalize() if i else w for i, w in enumerate(k.split("_"))): v for k, v in options.items()}
    return {"email": email, "options": camel}


async def send(sk: SdkDriver, email: str, **options: Any) -> Sent:
    return _sent(sk.kind, await sk.call("send", **_send_args(sk.kind, email, options)))


async def send_fails(sk: SdkDriver, email: str, **options: Any) -> dict[str, Any]:
    return await sk.fails("send", **_send_args(sk.kind, email, options))


async def resend(sk: SdkDriver, auth_request_id: str) -> Sent:
    args = {"auth_request_id": auth_request_id} if sk.kind == "python" else {"authRequestId": auth_request_id}
    return _sent(sk.kind, await sk.call("resend", **args))


def _verify_args(kind: str, code: str | None, link_token: str | None, auth_request_id: str | None) -> dict[str, Any]:
    if kind == "python":
        args = {"code": code, "link_token": link_token, "auth_request_id": auth_request_id}
        return {k: v for k, v in args.items() if v is not None}
    credential = {"code": code} if code is not None else {"linkToken": link_token}
    return {"credential": credential, "authRequestId": auth_request_id}


async def verify(
    sk: SdkDriver, *, code: str | None = None, link_token: str | None = None, auth_request_id: str | None = None
) -> Verified:
    r = await sk.call("verify", **_verify_args(sk.kind, code, link_token, auth_request_id))
    if sk.kind == "python":
        return Verified(r["email"], r.get("state"), r.get("template"), r["passwordless_type"])
    template = r.get("template")
    return Verified(
        r["email"],
        r.get("state"),
        TEMPLATE_NAMES[template] if template is not None else None,
        TYPE_NAMES[r["passwordlessType"]],
    )


async def verify_fails(
    sk: SdkDriver, *, code: str | None = None, link_token: str | None = None, auth_request_id: str | None = None
) -> dict[str, Any]:
    return await sk.fails("verify", **_verify_args(sk.kind, code, link_token, auth_request_id))
