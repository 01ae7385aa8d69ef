"""The gRPC service in process: keyless's grpcio server on a real database with real mail and a manual
clock, called by a grpcio client. Statuses, error details, bearer rules and deadlines the official SDKs
depend on (spec sections 2.4, 2.5 and 4)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from google.rpc.status_pb2 import Status

from keyless.core.flows.passwordless import Caller
from keyless.grpc.proto import errdetails_pb2
from keyless.grpc.proto import passwordless_pb2 as pb
from keyless.grpc.server import GrpcServer
from keyless.grpc.service import SERVICE, PasswordlessService
from tests.support.api import Api

SEND = f"/{SERVICE}/SendPasswordlessEmail"
RESEND = f"/{SERVICE}/ResendPasswordlessEmail"
VERIFY = f"/{SERVICE}/VerifyPasswordlessEmail"
REPLIES: dict[str, type[Message]] = {
    SEND: pb.SendPasswordlessResponse,
    RESEND: pb.SendPasswordlessResponse,
    VERIFY: pb.VerifyPasswordLessResponse,
}


class Client:
    def __init__(self, channel: grpc.aio.Channel, token: str) -> None:
        self.channel = channel
        self.token = token

    def bearer(self) -> list[str]:
        return [f"Bearer {self.token}"]

    async def call(
        self, path: str, request: Message | bytes, authorization: list[str] | None = None, timeout: float = 10
    ) -> Any:
        method = self.channel.unary_unary(
            path,
            request_serializer=lambda m: m if isinstance(m, bytes) else m.SerializeToString(),
            response_deserializer=REPLIES.get(path, pb.SendPasswordlessResponse).FromString,
        )
        values = self.bearer() if authorization is None else authorization
        return await method(request, metadata=[("authorization", v) for v in values], timeout=timeout)

    async def fails(self, path: str, request: Message | bytes, **kw: Any) -> tuple[int, errdetails_pb2.ErrorInfo]:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await self.call(path, request, **kw)
        return status_and_info(caught.value)


def status_and_info(error: grpc.aio.AioRpcError) -> tuple[int, errdetails_pb2.ErrorInfo]:
    trailers = dict(error.trailing_metadata() or ())
    status = Status.FromString(trailers["grpc-status-details-bin"])
    # What the Python SDK's rpc_status.from_call insists on before it reads any detail.
    assert status.code == error.code().value[0] and status.message == error.details()
    assert [d.type_url for d in status.details] == ["type.googleapis.com/scalekit.v1.errdetails.ErrorInfo"]
    info = errdetails_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    return status.code, info


@pytest.fixture
async def client(api: Api) -> AsyncIterator[Client]:
    container = api.container
    server = GrpcServer(PasswordlessService(container.flows).methods(), container.api_auth, container.ips)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield Client(channel, api.token)
    finally:
        await server.stop(0)


async def send_code(api: Api, client: Client, email: str) -> tuple[str, str]:
    sent = await client.call(SEND, pb.SendPasswordlessRequest(email=email))
    return sent.auth_request_id, (await api.smtp.wait_for(email))[-1].code


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_send_resend_verify_round_trip(api: Api, client: Client) -> None:
    request = pb.SendPasswordlessRequest(
        email="ana@example.com", template=pb.SIGNUP, state="s-1", expires_in=600, template_variables={"teamName": "A"}
    )
    sent = await client.call(SEND, request)
    assert sent.expires_in == 600 and sent.expires_at == int(api.clock.now()) + 600
    assert sent.passwordless_type == pb.OTP
    again = await client.call(RESEND, pb.ResendPasswordlessRequest(auth_request_id=sent.auth_request_id))
    assert again.auth_request_id == sent.auth_request_id
    code = (await api.smtp.wait_for("ana@example.com", count=2))[-1].code
    done = await client.call(VERIFY, pb.VerifyPasswordLessRequest(code=code, auth_request_id=sent.auth_request_id))
    assert (done.email, done.state, done.template, done.passwordless_type) == (
        "ana@example.com",
        "s-1",
        pb.SIGNUP,
        pb.OTP,
    )
    assert done.HasField("state") and done.HasField("template")


async def test_unauthenticated_only_for_missing_invalid_or_expired_tokens(api: Api, client: Client) -> None:
    unknown = pb.ResendPasswordlessRequest(auth_request_id="does-not-exist")
    code, info = await client.fails(RESEND, unknown, authorization=[])
    assert (code, info.error_code) == (16, "UNAUTHENTICATED")
    assert (await client.fails(RESEND, unknown, authorization=["Bearer not-a-jwt"]))[0] == 16
    assert (await client.fails(RESEND, unknown, authorization=["Basic abc"]))[0] == 16
    # The Python SDK sends [current, construction-time] tokens: only the first one counts.
    first_valid = await client.fails(RESEND, unknown, authorization=[*client.bearer(), "Bearer stale.or.garbage"])
    assert first_valid[0] == 5  # authenticated; the request itself is unknown
    assert (await client.fails(RESEND, unknown, authorization=["Bearer stale.or.garbage", *client.bearer()]))[0] == 16
    api.clock.advance(api.container.settings.access_token_ttl + 1)
    assert (await client.fails(RESEND, unknown))[0] == 16


async def test_credential_errors_are_bad_request_class_never_retryable(api: Api, client: Client) -> None:
    request_id, code = await send_code(api, client, "bo@example.com")
    bad = await client.fails(VERIFY, pb.VerifyPasswordLessRequest(code=wrong(code), auth_request_id=request_id))
    assert (bad[0], bad[1].error_code) == (3, "INVALID_CODE")
    good = pb.VerifyPasswordLessRequest(code=code, auth_request_id=request_id)
    assert (await client.call(VERIFY, good)).email == "bo@example.com"
    used = await client.fails(VERIFY, good)
    assert (used[0], used[1].error_code) == (9, "ALREADY_USED")

    expiring_id, expiring_code = await send_code(api, client, "cy@example.com")
    api.clock.advance(301)
    expired = await client.fails(VERIFY, pb.VerifyPasswordLessRequest(code=expiring_code, auth_request_id=expiring_id))
    assert (expired[0], expired[1].error_code) == (9, "EXPIRED")
    # UNAVAILABLE would make the SDKs repeat the call (mailing twice); UNAUTHENTICATED, re-verify.
    assert {bad[0], used[0], expired[0]}.isdisjoint({14, 16})


async def test_limits_are_resource_exhausted(api: Api, client: Client) -> None:
    request = pb.SendPasswordlessRequest(email="dee@example.com")
    for _ in range(2):
        await client.call(SEND, request)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.call(SEND, request)
    assert status_and_info(caught.value)[1].error_code == "RATE_LIMITED"
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert int(dict(caught.value.trailing_metadata() or ())["retry-after"]) >= 1

    request_id, code = await send_code(api, client, "eve@example.com")
    attempt = pb.VerifyPasswordLessRequest(code=wrong(code), auth_request_id=request_id)
    statuses = [(await client.fails(VERIFY, attempt))[0] for _ in range(6)]
    assert statuses == [3, 3, 3, 3, 3, 8]
    spent = await client.fails(VERIFY, pb.VerifyPasswordLessRequest(code=code, auth_request_id=request_id))
    assert (spent[0], spent[1].error_code) == (8, "TOO_MANY_ATTEMPTS")


async def test_validation_errors_carry_field_violations(client: Client) -> None:
    code, info = await client.fails(SEND, pb.SendPasswordlessRequest())
    assert (code, info.error_code) == (3, "INVALID_ARGUMENT")
    assert [(v.field, v.constraint) for v in info.validation_error_info.field_violations] == [("email", "required")]

    undefined = pb.SendPasswordlessRequest(email="fay@example.com")
    undefined.template = 7  # type: ignore[assignment]  # open enum: an unknown number still parses
    _, info = await client.fails(SEND, undefined)
    assert [v.constraint for v in info.validation_error_info.field_violations] == ["enum.defined_only"]

    assert (await client.fails(VERIFY, pb.VerifyPasswordLessRequest(auth_request_id="x")))[0] == 3
    assert (await client.fails(SEND, b"\xff\xff\xff"))[0] == 3


async def test_unknown_method_is_unimplemented(client: Client) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.call(f"/{SERVICE}/DeletePasswordlessEmail", pb.SendPasswordlessRequest(email="a@example.com"))
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_the_deadline_stops_the_work(api: Api) -> None:
    """grpc-timeout is honoured on the server: the call's work is cancelled when its deadline passes."""
    cancelled = asyncio.Event()

    async def slow(caller: Caller, request: bytes) -> bytes:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return b""

    server = GrpcServer({SEND: slow}, api.container.api_auth, api.container.ips)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await Client(channel, api.token).call(SEND, pb.SendPasswordlessRequest(email="a@x.io"), timeout=0.3)
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        await asyncio.wait_for(cancelled.wait(), 2)
    finally:
        await server.stop(0)
