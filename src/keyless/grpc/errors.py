"""The one place gRPC errors are rendered: status, message and rich details from a catalogue error.

The status code and message travel as ``grpc-status``/``grpc-message``; ``grpc-status-details-bin``
carries a ``google.rpc.Status`` with the same code and message (the Python SDK drops every detail when
they differ) and one detail, a ``scalekit.v1.errdetails.ErrorInfo`` with the catalogue's error code,
which both SDKs surface as the exception's ``error_code``/``errorCode``.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.any_pb2 import Any as AnyMessage
from google.rpc.status_pb2 import Status

from keyless.errors import KeylessError
from keyless.grpc.proto.errdetails_pb2 import ErrorInfo, ValidationErrorInfo

DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True, slots=True)
class RenderedError:
    code: int
    message: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]


def error_info(error: KeylessError) -> ErrorInfo:
    info = ErrorInfo(error_code=error.error_code)
    for v in error.violations:
        info.validation_error_info.field_violations.append(
            ValidationErrorInfo.FieldViolation(field=v.field, description=v.description, constraint=v.constraint)
        )
    return info


def render(error: KeylessError) -> RenderedError:
    detail = AnyMessage()
    detail.Pack(error_info(error))  # type URL type.googleapis.com/scalekit.v1.errdetails.ErrorInfo
    status = Status(code=int(error.grpc_status), message=error.message, details=[detail])
    metadata: list[tuple[str, str | bytes]] = [(DETAILS_KEY, bytes(status.SerializeToString()))]
    if error.retry_after is not None:
        # Not read by the SDKs; tells a raw gRPC caller what REST's Retry-After says.
        metadata.append(("retry-after", str(max(1, int(error.retry_after)))))
    return RenderedError(int(error.grpc_status), error.message, tuple(metadata))
