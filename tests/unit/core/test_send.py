"""Send and resend rules."""

from __future__ import annotations

import dataclasses
import re

import pytest

from keyless.core.flows.passwordless import Caller, SendCommand
from keyless.core.models import PasswordlessType, TemplateType
from keyless.errors import AlreadyUsed, InvalidEmail, InvalidRequest, MagicLinkUriNotAllowed, RateLimited
from tests.unit.core.conftest import MAGIC, Harness


async def test_send_returns_the_seed_shape_and_mails_a_six_digit_code(harness: Harness) -> None:
    result = await harness.flows.send(harness.caller, SendCommand(email="alice@example.com", state="s1"))
    assert len(result.auth_request_id) >= 43 and re.fullmatch(r"[A-Za-z0-9_-]+", result.auth_request_id)
    assert result.expires_in == 300
    assert result.expires_at == int(harness.clock.now()) + 300
    assert result.passwordless_type is PasswordlessType.OTP
    content = harness.mail.last()
    assert content.code is not None and re.fullmatch(r"\d{6}", content.code)
    assert content.link is None and content.recipient == "alice@example.com"


async def test_code_is_never_stored_in_plaintext(harness: Harness) -> None:
    request_id, content = await harness.send()
    assert content.code is not None
    rows = await harness.db.fetch_all("SELECT * FROM auth_requests")
    rows += await harness.db.fetch_all("SELECT * FROM outbox")
    dump = repr(rows).encode()
    assert content.code.encode() not in dump
    stored = await harness.store.get(request_id)
    assert stored is not None and content.code.encode() not in stored.sealed_credentials


@pytest.mark.parametrize("expires_in", [59, 3601, 0, -1])
async def test_expires_in_outside_60_to_3600_is_refused(harness: Harness, expires_in: int) -> None:
    with pytest.raises(InvalidRequest) as info:
        await harness.send(expires_in=expires_in)
    assert info.value.violations[0].field == "expires_in"
    assert harness.mail.sent == []


@pytest.mark.parametrize("expires_in", [60, 3600])
async def test_expires_in_bounds_are_accepted(harness: Harness, expires_in: int) -> None:
    result = await harness.flows.send(harness.caller, SendCommand(email="a@example.com", expires_in=expires_in))
    assert result.expires_in == expires_in


@pytest.mark.parametrize(
    ("variables", "constraint"),
    [
        ({f"key{i:02d}": "v" for i in range(31)}, "map.max_pairs"),
        ({"k": "v"}, "map.keys.len"),
        ({"k" * 26: "v"}, "map.keys.len"),
        ({"team": "v" * 257}, "map.values.max_len"),
        ({"otp": "1"}, "map.keys.reserved"),
        ({"link": "x"}, "map.keys.reserved"),
        ({"expiry_time": "x"}, "map.keys.reserved"),
        ({"expire_time": "x"}, "map.keys.reserved"),
        ({"expiry_time_relative": "x"}, "map.keys.reserved"),
        ({"team": "a\x00b"}, "string.no_nul"),
    ],
)
async def test_template_variable_limits(harness: Harness, variables: dict[str, str], constraint: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        await harness.send(template_variables=variables)
    assert constraint in {v.constraint for v in info.value.violations}


async def test_template_variables_at_the_limits_are_accepted(harness: Harness) -> None:
    variables = {f"k{i:02d}": "v" * 256 for i in range(30)}
    variables["k" * 25] = variables.pop("k00")
    await harness.send(template_variables=variables)
    assert harness.mail.last().variables == variables


@pytest.mark.parametrize("state", ["", "s" * 1001, "a\x00b"])
async def test_bad_state_is_refused(harness: Harness, state: str) -> None:
    with pytest.raises(InvalidRequest):
        await harness.send(state=state)


@pytest.mark.parametrize(
    "email",
    [
        "",
        "alice",
        "a@b@c.com",
        "a@",
        "a" * 250 + "@example.com",
        "Alice <alice@example.com>",
        "alice@example.com\x00",
        "alice@example.com\r\nBcc: eve@evil.example",
        "alice@example.com%0d%0aBcc:eve@evil.example",
        "alice@example.org)<eve@evil.example>",
        "x@localhost",
    ],
)
async def test_invalid_email_is_refused_without_spending_quota(harness: Harness, email: str) -> None:
    with pytest.raises(InvalidEmail):
        await harness.send(email)
    assert harness.mail.sent == []


async def test_rejected_input_consumes_no_send_quota(harness: Harness) -> None:
    for _ in range(5):
        with pytest.raises(InvalidRequest):
            await harness.send("alice@example.com", expires_in=5)
    await harness.send("alice@example.com")
    await harness.send("alice@example.com")
    assert len(harness.mail.sent) == 2


async def test_padded_address_is_trimmed_and_normalised(harness: Harness) -> None:
    await harness.send(" alice@EXAMPLE.com ")
    assert harness.mail.last().recipient == "alice@example.com"


async def test_two_sends_per_minute_per_normalised_address(harness: Harness) -> None:
    await harness.send("alice@example.com")
    await harness.send("Alice@Example.COM")
    for variant in (" alice@example.com", "alice@EXAMPLE.com"):
        with pytest.raises(RateLimited) as info:
            await harness.send(variant)
        assert info.value.retry_after is not None and 1 <= info.value.retry_after <= 60
    assert len(harness.mail.sent) == 2
    harness.clock.advance(60)
    await harness.send("alice@example.com")
    assert len(harness.mail.sent) == 3


async def test_resend_counts_toward_the_send_limit(harness: Harness) -> None:
    request_id, _ = await harness.send()
    await harness.flows.resend(harness.caller, request_id)
    with pytest.raises(RateLimited):
        await harness.flows.resend(harness.caller, request_id)
    assert len(harness.mail.sent) == 2


async def test_per_ip_send_ceiling(harness: Harness) -> None:
    ceiling = harness.flows._rules.rules["send:ip"].limit
    for i in range(ceiling):
        await harness.send(f"user{i}@example.com")
    with pytest.raises(RateLimited):
        await harness.send("one-more@example.com")


async def test_link_type_requires_a_registered_magic_link_uri(harness: Harness) -> None:
    harness.with_policy(passwordless_type=PasswordlessType.LINK)
    with pytest.raises(InvalidRequest) as info:
        await harness.send()
    assert info.value.violations[0].field == "magiclink_auth_uri"
    _, content = await harness.send(magiclink_auth_uri=MAGIC)
    assert content.code is None and content.link is not None
    assert content.link.startswith(MAGIC + "?link_token=")


@pytest.mark.parametrize(
    "uri",
    [
        "https://evil.example/",
        "//evil.example",
        "javascript:alert(1)",
        "https://app.example.com.evil.example/passwordless/verify",
        "https://app.example.com@evil.example/passwordless/verify",
        "https:/\\evil.example",
        "https://app.example.com/passwordless/verify/../../x",
        MAGIC + "/",
        MAGIC.upper(),
    ],
)
async def test_magic_link_uri_must_match_exactly(harness: Harness, uri: str) -> None:
    harness.with_policy(passwordless_type=PasswordlessType.LINK_OTP)
    with pytest.raises(MagicLinkUriNotAllowed):
        await harness.send(magiclink_auth_uri=uri)
    assert harness.mail.sent == []
    await harness.send(magiclink_auth_uri=MAGIC)  # no quota was spent by the refusals
    await harness.send(magiclink_auth_uri=MAGIC)


async def test_magic_link_keeps_the_registered_query(harness: Harness) -> None:
    uri = "https://app.example.com/verify?tenant=a&x=1"
    harness.caller = Caller(dataclasses.replace(harness.caller.client, magiclink_uris=(uri,)), "192.0.2.1")
    harness.with_policy(passwordless_type=PasswordlessType.LINK)
    _, content = await harness.send(magiclink_auth_uri=uri)
    assert content.link is not None
    assert content.link.startswith("https://app.example.com/verify?tenant=a&x=1&link_token=")


async def test_template_is_kept_for_the_email_and_verify(harness: Harness) -> None:
    _, content = await harness.send(template=TemplateType.SIGNUP)
    assert content.template is TemplateType.SIGNUP
    _, content = await harness.send("bob@example.com")
    assert content.template is TemplateType.SIGNIN  # UNSPECIFIED/absent reads as sign-in


async def test_resend_keeps_the_id_and_without_new_credentials_remails_the_same_code(
    harness: Harness,
) -> None:
    request_id, first = await harness.send()
    harness.clock.advance(290)
    result = await harness.flows.resend(harness.caller, request_id)
    assert result.auth_request_id == request_id
    assert result.expires_in == 10  # lifetime not extended
    assert harness.mail.last().code == first.code


async def test_resend_after_expiry_issues_a_fresh_credential(harness: Harness) -> None:
    request_id, first = await harness.send()
    harness.clock.advance(301)
    result = await harness.flows.resend(harness.caller, request_id)
    assert result.expires_in == 300
    stored = await harness.store.get(request_id)
    assert stored is not None and stored.credential_version == 2
    assert harness.flows._hasher.code_matches(request_id, harness.mail.last().code or "", stored.code_hash)
    assert not harness.flows._hasher.code_matches(request_id, first.code or "", stored.code_hash) or (
        first.code == harness.mail.last().code  # a one-in-a-million repeat of the same digits
    )


async def test_resend_with_new_credentials_issues_a_new_code(harness: Harness) -> None:
    harness.with_policy(new_credentials_on_resend=True)
    request_id, _ = await harness.send()
    harness.clock.advance(100)
    result = await harness.flows.resend(harness.caller, request_id)
    assert result.auth_request_id == request_id and result.expires_in == 300
    stored = await harness.store.get(request_id)
    assert stored is not None and stored.credential_version == 2


async def test_resend_of_another_clients_request_is_not_found(harness: Harness) -> None:
    from keyless.errors import AuthRequestNotFound

    request_id, _ = await harness.send()
    with pytest.raises(AuthRequestNotFound):
        await harness.flows.resend(harness.other_caller, request_id)
    with pytest.raises(InvalidRequest):
        await harness.flows.resend(harness.caller, "not a valid id!")


async def test_resend_of_a_used_request_is_refused(harness: Harness) -> None:
    from keyless.core.flows.passwordless import VerifyCommand

    request_id, content = await harness.send()
    await harness.flows.verify(harness.caller, VerifyCommand(code=content.code, auth_request_id=request_id))
    with pytest.raises(AlreadyUsed):
        await harness.flows.resend(harness.caller, request_id)
