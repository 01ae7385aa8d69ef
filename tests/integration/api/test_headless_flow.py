"""The seeds' headless flow over HTTP with mail read from a real SMTP server."""

from __future__ import annotations

import base64
import json

from keyless.errors import GrpcStatus
from tests.support.api import Api

ERROR_INFO = "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo"


def claims_of(token: str) -> tuple[dict[str, object], dict[str, object]]:
    head, body, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(head))), json.loads(base64.urlsafe_b64decode(pad(body)))


def error_code(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"code", "message", "details"}
    assert body["details"][0]["@type"] == ERROR_INFO
    return str(body["details"][0]["error_code"])


async def test_send_read_code_verify(api: Api) -> None:
    sent = await api.post(
        "send",
        {
            "email": "john.doe@example.com",
            "expires_in": 300,
            "state": "jAy-state1-gM4fdZ",
            "template": "SIGNIN",
            "template_variables": {"custom_variable_key": "custom_variable_value"},
        },
    )
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert set(body) == {"auth_request_id", "expires_at", "expires_in", "passwordless_type"}
    assert isinstance(body["expires_at"], str) and body["expires_at"].isdigit()
    assert body["expires_in"] == 300 and body["passwordless_type"] == "OTP"
    assert sent.headers["cache-control"] == "no-store"

    mail = (await api.smtp.wait_for("john.doe@example.com"))[0]
    assert mail.message["To"] == "john.doe@example.com"
    verified = await api.post("verify", {"code": mail.code, "auth_request_id": body["auth_request_id"]})
    assert verified.status_code == 200, verified.text
    assert verified.json() == {
        "email": "john.doe@example.com",
        "state": "jAy-state1-gM4fdZ",
        "template": "SIGNIN",
        "passwordless_type": "OTP",
    }
    again = await api.post("verify", {"code": mail.code, "auth_request_id": body["auth_request_id"]})
    assert again.status_code == 400 and error_code(again) == "ALREADY_USED"
    assert again.json()["code"] == GrpcStatus.FAILED_PRECONDITION


async def test_lower_camel_input_is_accepted(api: Api) -> None:
    sent = await api.post("send", {"email": "camel@example.com", "expiresIn": "120", "templateVariables": {"ab": "c"}})
    assert sent.status_code == 200, sent.text
    assert sent.json()["expires_in"] == 120
    mail = (await api.smtp.wait_for("camel@example.com"))[0]
    verified = await api.post("verify", {"code": mail.code, "authRequestId": sent.json()["auth_request_id"]})
    assert verified.status_code == 200
    assert "state" not in verified.json() and "template" not in verified.json()


async def test_resend_keeps_the_id_and_mails_again(api: Api) -> None:
    sent = (await api.post("send", {"email": "re@example.com"})).json()
    resent = await api.post("resend", {"auth_request_id": sent["auth_request_id"]})
    assert resent.status_code == 200
    assert resent.json()["auth_request_id"] == sent["auth_request_id"]
    mails = await api.smtp.wait_for("re@example.com", 2)
    assert mails[0].code == mails[1].code  # "new credentials on resend" is off by default
    third = await api.post("resend", {"auth_request_id": sent["auth_request_id"]})
    assert third.status_code == 429 and error_code(third) == "RATE_LIMITED"
    assert 1 <= int(third.headers["retry-after"]) <= 60


async def test_wrong_codes_then_429_with_retry_after(api: Api) -> None:
    sent = (await api.post("send", {"email": "bf@example.com"})).json()
    code = (await api.smtp.wait_for("bf@example.com"))[0].code
    bad = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        response = await api.post("verify", {"code": bad, "auth_request_id": sent["auth_request_id"]})
        assert response.status_code == 400 and error_code(response) == "INVALID_CODE"
    final = await api.post("verify", {"code": code, "auth_request_id": sent["auth_request_id"]})
    assert final.status_code == 429 and error_code(final) == "TOO_MANY_ATTEMPTS"
    assert int(final.headers["retry-after"]) >= 1
    assert final.json()["code"] == GrpcStatus.RESOURCE_EXHAUSTED


async def test_validation_errors_list_field_violations(api: Api) -> None:
    response = await api.post("send", {"email": "v@example.com", "expires_in": 30, "template_variables": {"otp": "1"}})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == GrpcStatus.INVALID_ARGUMENT
    violations = body["details"][0]["validation_error_info"]["field_violations"]
    assert {v["field"] for v in violations} == {"expires_in", "template_variables.otp"}
    invalid_email = await api.post("send", {"email": "Alice <alice@example.com>"})
    assert invalid_email.status_code == 400 and error_code(invalid_email) == "INVALID_EMAIL"


async def test_unknown_request_is_404(api: Api) -> None:
    response = await api.post("verify", {"code": "123456", "auth_request_id": "A" * 43})
    assert response.status_code == 404 and error_code(response) == "AUTH_REQUEST_NOT_FOUND"


async def test_access_token_shape(api: Api) -> None:
    header, claims = claims_of(api.token)
    assert header["alg"] == "RS256" and header["typ"] == "at+jwt" and str(header["kid"]).startswith("snk_")
    assert {"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scopes"} <= set(claims)
    assert claims["iss"] == "http://localhost:8080" and claims["aud"] == [api.client_id]
    assert claims["scopes"] == ["passwordless"] and claims["sub"] == api.client_id
    keys = (await api.http.get("/keys")).json()["keys"]
    assert header["kid"] in {k["kid"] for k in keys}
