"""security.md cases for the API: bad input (B1), limits (B2), binding (B3), email (B6), secrets."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from keyless.core.models import PasswordlessType
from keyless.oidc.tokens import TokenService
from tests.integration.api.test_headless_flow import error_code
from tests.support.api import MAGIC, Api


async def test_no_token_gives_401_with_bearer_challenge(api: Api) -> None:
    response = await api.http.post("/api/v1/passwordless/email/send", json={"email": "a@example.com"})
    assert response.status_code == 401 and response.headers["www-authenticate"] == 'Bearer realm="keyless"'
    assert error_code(response) == "UNAUTHENTICATED"
    forged = await api.post("send", {"email": "a@example.com"}, token="not.a.token")
    assert 'error="invalid_token"' in forged.headers["www-authenticate"]
    assert api.smtp.messages == []


@pytest.mark.parametrize("value", ["Bearer", "Basic abc", "Bearer a.b.c", "Bearer not-a-jwt", "bearer  "])
async def test_malformed_tokens_give_401(api: Api, value: str) -> None:
    response = await api.http.post(
        "/api/v1/passwordless/email/send", json={"email": "a@example.com"}, headers={"Authorization": value}
    )
    assert response.status_code == 401


async def test_expired_token_gives_401(api: Api) -> None:
    api.clock.advance(api.container.settings.access_token_ttl + 1)
    response = await api.post("send", {"email": "a@example.com"})
    assert response.status_code == 401 and "Bearer" in response.headers["www-authenticate"]


async def test_token_signed_by_another_key_gives_401(api: Api) -> None:
    key = RSAKey.generate_key(2048, private=True)
    kid = api.container.keyring.signing_key(api.clock.now()).record.kid
    claims = {
        "iss": "http://localhost:8080",
        "sub": api.client_id,
        "aud": [api.client_id],
        "exp": int(api.clock.now()) + 600,
        "iat": int(api.clock.now()),
        "nbf": int(api.clock.now()),
        "client_id": api.client_id,
        "scopes": ["passwordless"],
    }
    forged = jwt.encode({"alg": "RS256", "kid": kid, "typ": "at+jwt"}, claims, key)
    response = await api.post("send", {"email": "a@example.com"}, token=forged)
    assert response.status_code == 401
    unsigned = (
        ".".join(
            base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()
            for part in ({"alg": "none", "typ": "at+jwt", "kid": kid}, claims)
        )
        + "."
    )
    response = await api.post("send", {"email": "a@example.com"}, token=unsigned)
    assert response.status_code == 401


async def test_token_without_the_api_scope_gives_403(api: Api) -> None:
    tokens: TokenService = api.container.tokens
    issued = tokens.issue_access_token(
        subject=api.client_id, client_id=api.client_id, scopes=("openid",), now=api.clock.now()
    )
    response = await api.post("send", {"email": "a@example.com"}, token=issued.access_token)
    assert response.status_code == 403 and error_code(response) == "INSUFFICIENT_SCOPE"
    assert api.smtp.messages == []


async def test_first_authorization_value_is_used(api: Api) -> None:
    response = await api.http.post(
        "/api/v1/passwordless/email/send",
        json={"email": "dup@example.com"},
        headers=[("Authorization", f"Bearer {api.token}"), ("Authorization", "Bearer stale.stale.stale")],
    )
    assert response.status_code == 200, response.text


async def test_malformed_bodies(api: Api) -> None:
    sent = (await api.post("send", {"email": "body@example.com"})).json()
    request_id = sent["auth_request_id"]
    url = "/api/v1/passwordless/email/verify"
    not_json = await api.http.post(
        url, content=b"{not json", headers={**api.auth(), "Content-Type": "application/json"}
    )
    assert not_json.status_code == 400 and error_code(not_json) == "MALFORMED_REQUEST_BODY"
    text = await api.http.post(url, content=b"code=1", headers={**api.auth(), "Content-Type": "text/plain"})
    assert text.status_code == 415
    huge = await api.http.post(
        url,
        content=b'{"code":"' + b"1" * (2 * 1024 * 1024) + b'"}',
        headers={**api.auth(), "Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    array = await api.http.post(url, content=b"[]", headers={**api.auth(), "Content-Type": "application/json"})
    assert array.status_code == 400
    missing = await api.post("verify", {"code": "123456"})
    assert missing.status_code == 400 and error_code(missing) == "INVALID_ARGUMENT"
    for bad_id in ("../../etc", "x" * 10_000, "not-a-uuid but spaced"):
        response = await api.post("verify", {"code": "123456", "auth_request_id": bad_id})
        assert response.status_code == 400
    wrong_type = await api.post("verify", {"code": 123456, "auth_request_id": request_id})
    assert wrong_type.status_code == 400
    stored = await api.container.requests.get(request_id)
    assert stored is not None and stored.attempts == 0  # none of that reached the comparison


@pytest.mark.parametrize("expires_in", [-1, 0, 86400, 1e9, 300.5, "abc", True])
async def test_expires_in_abuse_is_refused(api: Api, expires_in: object) -> None:
    response = await api.post("send", {"email": "exp@example.com", "expires_in": expires_in})
    assert response.status_code == 400


async def test_hostile_state_is_echoed_byte_exact_or_refused(api: Api) -> None:
    too_long = await api.post("send", {"email": "st@example.com", "state": "s" * 10_000})
    assert too_long.status_code == 400
    state = "<script>alert(1)</script>\r\n%2F-._~é"
    sent = (await api.post("send", {"email": "st@example.com", "state": state})).json()
    code = (await api.smtp.wait_for("st@example.com"))[0].code
    verified = await api.post("verify", {"code": code, "auth_request_id": sent["auth_request_id"]})
    assert verified.json()["state"] == state


async def test_host_header_never_reaches_links_or_tokens(api: Api) -> None:
    api.container.flows.policy = dataclasses.replace(
        api.container.flows.policy, passwordless_type=PasswordlessType.LINK_OTP
    )
    poisoned = (
        {"Host": "evil.example"},
        {"X-Forwarded-Host": "evil.example"},
        {"Forwarded": "host=evil.example"},
    )
    for count, headers in enumerate(poisoned, start=1):
        response = await api.http.post(
            "/api/v1/passwordless/email/send",
            json={"email": "host@example.com", "magiclink_auth_uri": MAGIC},
            headers={**api.auth(), **headers},
        )
        assert response.status_code == 200
        mails = await api.smtp.wait_for("host@example.com", count)
        api.clock.advance(61)  # past the per-address send limit, once this mail is out
    for mail in mails:
        assert mail.link.startswith(MAGIC + "?link_token=")
        assert "evil.example" not in mail.raw.decode(errors="replace")
    token = await api.http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": api.client_id,
            "client_secret": api.client_secret,
        },
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    )
    from tests.integration.api.test_headless_flow import claims_of

    assert claims_of(token.json()["access_token"])[1]["iss"] == "http://localhost:8080"


async def test_spoofed_forwarded_for_does_not_bypass_the_ip_limit(api: Api) -> None:
    statuses = []
    ceiling = api.container.rules.rules["send:ip"].limit
    for i in range(ceiling + 5):
        response = await api.http.post(
            "/api/v1/passwordless/email/send",
            json={"email": f"ip{i}@example.com"},
            headers={**api.auth(), "X-Forwarded-For": f"198.51.{i // 250}.{i % 250}"},
        )
        statuses.append(response.status_code)
    assert statuses[:ceiling] == [200] * ceiling and set(statuses[ceiling:]) == {429}


async def test_cross_client_request_is_unknown(api: Api) -> None:
    sent = (await api.post("send", {"email": "x@example.com"})).json()
    code = (await api.smtp.wait_for("x@example.com"))[0].code
    other_id, other_secret = await api.new_client()
    other_token = await api.token_for(other_id, other_secret)
    response = await api.post("verify", {"code": code, "auth_request_id": sent["auth_request_id"]}, token=other_token)
    assert response.status_code == 404
    ok = await api.post("verify", {"code": code, "auth_request_id": sent["auth_request_id"]})
    assert ok.status_code == 200


async def test_secrets_never_stored_or_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="keyless")
    sent = (await api.post("send", {"email": "secret@example.com"})).json()
    code = (await api.smtp.wait_for("secret@example.com"))[0].code
    dump = ""
    for table in ("auth_requests", "outbox", "clients", "signing_keys"):
        dump += repr(await api.container.db.fetch_all(f"SELECT * FROM {table}"))  # noqa: S608
    assert code not in dump and api.client_secret not in dump
    await api.post(
        "verify",
        {"code": "000000" if code != "000000" else "111111", "auth_request_id": sent["auth_request_id"]},
    )
    await api.post("verify", {"code": code, "auth_request_id": sent["auth_request_id"]})
    # keyless's own log lines only: the test SMTP server logs the DATA it receives, as it should.
    logs = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("keyless"))
    assert logs, "expected log output from the flow"
    for secret in (code, api.token, api.client_secret):
        assert secret not in logs
    assert "passwordless.verified" in logs and "passwordless.verify_failed" in logs


@pytest.mark.parametrize("path", ["send", "resend", "verify"])
async def test_junk_never_yields_a_500(api: Api, path: str) -> None:
    junk = [
        b"",
        b"null",
        b'{"email": {"a": 1}}',
        b'{"auth_request_id": null}',
        b'{"code": ["1"]}',
        b'{"template": "ADMIN"}',
        b'{"template_variables": {"a": 1}}',
        b"\xff\xfe",
        b'{"email": "a@example.com", "expires_in": 99999999999999999999999}',
    ]
    for payload in junk:
        response = await api.http.post(
            f"/api/v1/passwordless/email/{path}",
            content=payload,
            headers={**api.auth(), "Content-Type": "application/json"},
        )
        assert 400 <= response.status_code < 500, (payload, response.status_code, response.text)
        assert "Traceback" not in response.text and "sqlite" not in response.text.lower()


async def test_fifty_parallel_wrong_guesses_over_http(api: Api) -> None:
    sent = (await api.post("send", {"email": "race@example.com"})).json()
    code = (await api.smtp.wait_for("race@example.com"))[0].code
    bad = f"{(int(code) + 1) % 1_000_000:06d}"
    responses = await asyncio.gather(
        *(api.post("verify", {"code": bad, "auth_request_id": sent["auth_request_id"]}) for _ in range(50))
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(400) <= 5 and statuses.count(400) + statuses.count(429) == 50
    final = await api.post("verify", {"code": code, "auth_request_id": sent["auth_request_id"]})
    assert final.status_code == 429


async def test_twenty_parallel_right_verifies_over_http(api: Api) -> None:
    sent = (await api.post("send", {"email": "once@example.com"})).json()
    code = (await api.smtp.wait_for("once@example.com"))[0].code
    responses = await asyncio.gather(
        *(api.post("verify", {"code": code, "auth_request_id": sent["auth_request_id"]}) for _ in range(20))
    )
    assert [r.status_code for r in responses].count(200) == 1
    assert all(r.status_code in (200, 400, 429) for r in responses)
