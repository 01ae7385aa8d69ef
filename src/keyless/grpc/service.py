"""``PasswordlessService``: protobuf in, the core passwordless flows, protobuf out.

Translation only. Every rule (limits, expiry, single use, validation of values) lives in
``keyless.core.flows.passwordless`` and runs exactly as it does for REST; what is checked here is what
the protobuf form adds: presence, the oneof, enum numbers, and the length bounds Scalekit's
buf.validate annotations put on the wire (the REST schema enforces the same bounds).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from keyless.core.flows.passwordless import (
    Caller,
    PasswordlessFlows,
    SendCommand,
    SendResult,
    VerifyCommand,
    VerifyResult,
)
from keyless.core.models import PasswordlessType, TemplateType
from keyless.errors import FieldViolation, InvalidRequest
from keyless.grpc.proto import passwordless_pb2 as pb

SERVICE = "scalekit.v1.auth.passwordless.PasswordlessService"
MAX_EMAIL_LENGTH = 320  # buf.validate string.max_len on SendPasswordlessRequest.email

_TEMPLATES = {
    pb.UNSPECIFIED: TemplateType.UNSPECIFIED,
    pb.SIGNIN: TemplateType.SIGNIN,
    pb.SIGNUP: TemplateType.SIGNUP,
}
_TEMPLATE_NUMBERS = {v: k for k, v in _TEMPLATES.items()}
_TYPE_NUMBERS = {PasswordlessType.OTP: pb.OTP, PasswordlessType.LINK: pb.LINK, PasswordlessType.LINK_OTP: pb.LINK_OTP}

Req = TypeVar("Req", bound=Message)
Handler = Callable[[Caller, bytes], Awaitable[bytes]]
"""A unary method: the authenticated caller and the request message's bytes -> the reply's bytes."""


def unary(request_type: type[Req], call: Callable[[Caller, Req], Awaitable[Message]]) -> Handler:
    async def handle(caller: Caller, data: bytes) -> bytes:
        request = request_type()
        try:
            request.ParseFromString(data)
        except DecodeError:
            raise InvalidRequest(message="The request message could not be decoded.") from None
        reply = await call(caller, request)
        return reply.SerializeToString()

    return handle


class PasswordlessService:
    def __init__(self, flows: PasswordlessFlows) -> None:
        self._flows = flows

    def methods(self) -> dict[str, Handler]:
        """HTTP/2 ``:path`` -> handler."""
        return {
            f"/{SERVICE}/SendPasswordlessEmail": unary(pb.SendPasswordlessRequest, self.send),
            f"/{SERVICE}/ResendPasswordlessEmail": unary(pb.ResendPasswordlessRequest, self.resend),
            f"/{SERVICE}/VerifyPasswordlessEmail": unary(pb.VerifyPasswordLessRequest, self.verify),
        }

    async def send(self, caller: Caller, request: pb.SendPasswordlessRequest) -> pb.SendPasswordlessResponse:
        return _send_response(await self._flows.send(caller, send_command(request)))

    async def resend(self, caller: Caller, request: pb.ResendPasswordlessRequest) -> pb.SendPasswordlessResponse:
        return _send_response(await self._flows.resend(caller, request.auth_request_id))

    async def verify(self, caller: Caller, request: pb.VerifyPasswordLessRequest) -> pb.VerifyPasswordLessResponse:
        return _verify_response(await self._flows.verify(caller, verify_command(request)))


def send_command(request: pb.SendPasswordlessRequest) -> SendCommand:
    violations: list[FieldViolation] = []
    if not request.email:
        violations.append(FieldViolation("email", "is required", "required"))
    elif len(request.email) > MAX_EMAIL_LENGTH:
        violations.append(FieldViolation("email", f"must be at most {MAX_EMAIL_LENGTH} characters", "string.max_len"))
    template = None
    if request.HasField("template"):
        template = _TEMPLATES.get(request.template)
        if template is None:
            violations.append(FieldViolation("template", "must be UNSPECIFIED, SIGNIN or SIGNUP", "enum.defined_only"))
    if violations:
        raise InvalidRequest(violations=tuple(violations))
    return SendCommand(
        email=request.email,
        template=template,
        magiclink_auth_uri=request.magiclink_auth_uri if request.HasField("magiclink_auth_uri") else None,
        state=request.state if request.HasField("state") else None,
        expires_in=request.expires_in if request.HasField("expires_in") else None,
        # An empty map is "no variables", as an absent JSON object is for REST.
        template_variables=dict(request.template_variables) or None,
    )


def verify_command(request: pb.VerifyPasswordLessRequest) -> VerifyCommand:
    credential = request.WhichOneof("auth_credential")
    return VerifyCommand(
        code=request.code if credential == "code" else None,
        link_token=request.link_token if credential == "link_token" else None,
        # An empty id means "none" (a client may set the field to its default); the flows' rules on a
        # missing id then apply, as they do for an absent JSON field.
        auth_request_id=request.auth_request_id or None,
    )


def _send_response(result: SendResult) -> pb.SendPasswordlessResponse:
    return pb.SendPasswordlessResponse(
        auth_request_id=result.auth_request_id,
        expires_at=result.expires_at,
        expires_in=result.expires_in,
        passwordless_type=_TYPE_NUMBERS[result.passwordless_type],
    )


def _verify_response(result: VerifyResult) -> pb.VerifyPasswordLessResponse:
    response = pb.VerifyPasswordLessResponse(
        email=result.email, passwordless_type=_TYPE_NUMBERS[result.passwordless_type]
    )
    if result.state is not None:
        response.state = result.state
    if result.template is not None:
        response.template = _TEMPLATE_NUMBERS[result.template]
    return response
