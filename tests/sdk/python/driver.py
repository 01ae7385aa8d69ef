"""Drives the official ``scalekit-sdk-python`` one call at a time, as the seeds' snippets call it.

Run as a subprocess by ``tests/support/scalekit.py``: reads one JSON command per line on stdin, makes
that one SDK call and prints one JSON line with its result or with the SDK exception it raised. The
SDK is never imported into the pytest process (its descriptors and grpcio threads stay out of it).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from google.protobuf.json_format import MessageToDict
from scalekit import AuthorizationUrlOptions, CodeAuthenticationOptions, ScalekitClient
from scalekit.common.exceptions import ScalekitException

client: ScalekitClient | None = None


def sdk() -> ScalekitClient:
    assert client is not None, "init first"
    return client


def message(resp: Any) -> dict[str, Any]:
    # Passwordless methods return (response, grpc.Call); callers use resp[0], as the seeds do.
    msg = resp[0]
    out = MessageToDict(msg, preserving_proto_field_name=True)
    for name in ("expires_at", "expires_in"):
        if hasattr(msg, name):
            out[f"{name}_raw"] = getattr(msg, name)
            out[f"{name}_type"] = type(getattr(msg, name)).__name__
    return out


def run(op: str, args: dict[str, Any]) -> Any:
    global client
    if op == "init":
        client = ScalekitClient(args["env_url"], args["client_id"], args["client_secret"])
        return {"ok": True}
    if op == "send":
        return message(sdk().passwordless.send_passwordless_email(**args))
    if op == "resend":
        return message(sdk().passwordless.resend_passwordless_email(auth_request_id=args["auth_request_id"]))
    if op == "verify":
        return message(sdk().passwordless.verify_passwordless_email(**args))
    if op == "authorization_url":
        options = AuthorizationUrlOptions()
        for key, value in args["options"].items():
            setattr(options, key, value)
        return sdk().get_authorization_url(args["redirect_uri"], options)
    if op == "authenticate_with_code":
        return sdk().authenticate_with_code(args["code"], args["redirect_uri"], CodeAuthenticationOptions())
    if op == "validate_access_token":
        return sdk().validate_access_token(args["token"])
    if op == "refresh":
        return sdk().refresh_access_token(args["refresh_token"])
    raise ValueError(f"unknown op {op}")


def error(exc: Exception) -> dict[str, Any]:
    return {
        "class": type(exc).__name__,
        "scalekit": isinstance(exc, ScalekitException),
        "error_code": getattr(exc, "error_code", None),
        "grpc_status": str(getattr(exc, "grpc_status", None)),
        "http_status": str(getattr(exc, "http_status", None)),
        "message": str(getattr(exc, "message", exc))[:2000],
    }


def main() -> None:
    for line in sys.stdin:
        command = json.loads(line)
        try:
            reply = {"result": run(command["op"], command.get("args", {}))}
        except Exception as exc:
            reply = {"error": error(exc)}
        sys.stdout.write(json.dumps(reply, default=str) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
