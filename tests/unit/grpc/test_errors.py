"""The one gRPC error renderer: status, message and details agree, for every catalogue error."""

from __future__ import annotations

import pytest
from google.rpc.status_pb2 import Status

from keyless.errors import CATALOGUE, FieldViolation, GrpcStatus, InvalidRequest, RateLimited
from keyless.grpc.errors import DETAILS_KEY, RenderedError, render
from keyless.grpc.proto.errdetails_pb2 import ErrorInfo


def decode(rendered: RenderedError) -> tuple[dict[str, str | bytes], Status, ErrorInfo]:
    metadata = dict(rendered.trailing_metadata)
    raw = metadata[DETAILS_KEY]
    assert isinstance(raw, bytes)  # grpcio base64-encodes -bin metadata on the wire itself
    status = Status.FromString(raw)
    info = ErrorInfo()
    assert status.details[0].type_url == "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo"
    assert status.details[0].Unpack(info)
    return metadata, status, info


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_catalogue_error_renders_consistent_details(code: str) -> None:
    error = CATALOGUE[code]()
    rendered = render(error)
    _, status, info = decode(rendered)
    assert rendered.code == status.code == int(error.grpc_status)
    assert rendered.message == status.message == error.message
    assert info.error_code == error.error_code
    assert info.error_code != "TOOL_ERROR"  # the SDKs never retry or refresh on it; keyless never sends it


def test_only_infrastructure_errors_are_unavailable() -> None:
    # UNAVAILABLE makes both SDKs back off and repeat the call: a business error there would mail twice.
    unavailable = {code for code, cls in CATALOGUE.items() if cls.grpc_status is GrpcStatus.UNAVAILABLE}
    assert unavailable == {"SERVICE_UNAVAILABLE"}
    # UNAUTHENTICATED makes the SDKs fetch a new token and repeat the call.
    unauthenticated = {code for code, cls in CATALOGUE.items() if cls.grpc_status is GrpcStatus.UNAUTHENTICATED}
    assert unauthenticated == {"UNAUTHENTICATED"}


def test_violations_and_retry_after() -> None:
    error = InvalidRequest(violations=(FieldViolation("email", "is required", "required"),))
    _, _, info = decode(render(error))
    assert [(v.field, v.description, v.constraint) for v in info.validation_error_info.field_violations] == [
        ("email", "is required", "required")
    ]
    metadata, status, info = decode(render(RateLimited(retry_after=42)))
    assert (status.code, info.error_code, metadata["retry-after"]) == (8, "RATE_LIMITED", "42")
