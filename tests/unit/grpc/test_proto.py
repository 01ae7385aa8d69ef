"""The checked-in protobuf modules are what scripts/gen_proto.py makes from the .proto files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from keyless.grpc.proto import errdetails_pb2
from keyless.grpc.proto import passwordless_pb2 as pb

ROOT = Path(__file__).resolve().parents[3]


def test_checked_in_modules_match_the_proto_files() -> None:
    """A .proto edit without `make proto` fails here."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_wire_names_and_numbers() -> None:
    """Spot checks of the facts the SDKs depend on (spec 1.3 and 2.5)."""
    service = pb.DESCRIPTOR.services_by_name["PasswordlessService"]
    assert service.full_name == "scalekit.v1.auth.passwordless.PasswordlessService"
    assert [m.name for m in service.methods] == [
        "SendPasswordlessEmail",
        "VerifyPasswordlessEmail",
        "ResendPasswordlessEmail",
    ]
    assert service.methods_by_name["VerifyPasswordlessEmail"].input_type.name == "VerifyPasswordLessRequest"
    fields = {f.name: f.number for f in pb.VerifyPasswordLessRequest.DESCRIPTOR.fields}
    assert fields == {"code": 1, "link_token": 2, "auth_request_id": 3}
    assert pb.SendPasswordlessResponse.DESCRIPTOR.fields_by_name["expires_at"].type == 3  # TYPE_INT64
    assert (pb.OTP, pb.LINK, pb.LINK_OTP) == (1, 2, 3)
    info = {f.name: f.number for f in errdetails_pb2.ErrorInfo.DESCRIPTOR.fields}
    assert info["error_code"] == 1 and info["validation_error_info"] == 8 and 7 not in info.values()
    assert errdetails_pb2.ErrorInfo.DESCRIPTOR.full_name == "scalekit.v1.errdetails.ErrorInfo"
