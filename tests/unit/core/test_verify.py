"""Verify rules: single use, attempt budgets, expiry, binding, links, concurrency."""

from __future__ import annotations

import asyncio

import pytest

from keyless.core.flows.passwordless import VerifyCommand
from keyless.core.models import PasswordlessType, TemplateType
from keyless.errors import (
    AlreadyUsed,
    AuthRequestNotFound,
    CredentialExpired,
    InvalidCode,
    InvalidRequest,
    KeylessError,
    TooManyAttempts,
)
from tests.unit.core.conftest import MAGIC, Harness


def wrong(code: str | None) -> str:
    assert code is not None
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def verify_code(h: Harness, request_id: str, code: str | None, caller: object = None) -> object:
    return await h.flows.verify(caller or h.caller, VerifyCommand(code=code, auth_request_id=request_id))  # type: ignore[arg-type]


async def test_right_code_returns_email_state_template_type(harness: Harness) -> None:
    request_id, content = await harness.send(state="jAy-state1", template=TemplateType.SIGNUP)
    result = await harness.flows.verify(harness.caller, VerifyCommand(code=content.code, auth_request_id=request_id))
    assert (result.email, result.state, result.template, result.passwordless_type) == (
        "alice@example.com",
        "jAy-state1",
        TemplateType.SIGNUP,
        PasswordlessType.OTP,
    )


async def test_single_use(harness: Harness) -> None:
    request_id, content = await harness.send()
    await verify_code(harness, request_id, content.code)
    with pytest.raises(AlreadyUsed):
        await verify_code(harness, request_id, content.code)


async def test_wrong_code_then_right_code(harness: Harness) -> None:
    request_id, content = await harness.send()
    with pytest.raises(InvalidCode):
        await verify_code(harness, request_id, wrong(content.code))
    await verify_code(harness, request_id, content.code)


@pytest.mark.parametrize("bad", ["12345", "1234567", "abcdef", " 123456"])
async def test_malformed_codes_are_wrong_codes_and_count(harness: Harness, bad: str) -> None:
    request_id, _ = await harness.send()
    with pytest.raises(InvalidCode):
        await verify_code(harness, request_id, bad)
    stored = await harness.store.get(request_id)
    assert stored is not None and stored.attempts == 1


async def test_five_wrong_then_even_the_right_code_is_refused(harness: Harness) -> None:
    request_id, content = await harness.send()
    for _ in range(5):
        with pytest.raises(InvalidCode):
            await verify_code(harness, request_id, wrong(content.code))
    with pytest.raises(TooManyAttempts) as info:
        await verify_code(harness, request_id, content.code)
    assert info.value.retry_after is not None and info.value.retry_after >= 1


async def test_resend_does_not_reset_the_attempt_count(harness: Harness) -> None:
    harness.with_policy(new_credentials_on_resend=True)
    request_id, content = await harness.send()
    for _ in range(3):
        with pytest.raises(InvalidCode):
            await verify_code(harness, request_id, wrong(content.code))
    await harness.flows.resend(harness.caller, request_id)
    fresh = harness.mail.last().code
    for _ in range(2):
        with pytest.raises(InvalidCode):
            await verify_code(harness, request_id, wrong(fresh))
    with pytest.raises(TooManyAttempts):
        await verify_code(harness, request_id, fresh)
    with pytest.raises(TooManyAttempts):
        await harness.flows.resend(harness.caller, request_id)


async def test_address_budget_spans_requests(harness: Harness) -> None:
    first, c1 = await harness.send()
    second, c2 = await harness.send()
    for request_id, content in ((first, c1), (first, c1), (first, c1), (second, c2), (second, c2)):
        with pytest.raises(InvalidCode):
            await verify_code(harness, request_id, wrong(content.code))
    harness.clock.advance(61)  # the send limit allows a new request, the attempt window does not
    third, c3 = await harness.send()
    with pytest.raises(TooManyAttempts):
        await verify_code(harness, third, c3.code)


async def test_window_recovery_after_ten_minutes(harness: Harness) -> None:
    first, c1 = await harness.send(expires_in=3600)
    for _ in range(5):
        with pytest.raises(InvalidCode):
            await verify_code(harness, first, wrong(c1.code))
    harness.clock.advance(601)
    second, c2 = await harness.send()
    await verify_code(harness, second, c2.code)
    # The locked request stays locked: its own budget is spent for good.
    with pytest.raises((TooManyAttempts, CredentialExpired)):
        await verify_code(harness, first, c1.code)


async def test_success_gives_back_the_address_attempt(harness: Harness) -> None:
    for _ in range(4):
        harness.clock.advance(61)
        request_id, content = await harness.send()
        await verify_code(harness, request_id, content.code)
    harness.clock.advance(61)
    request_id, content = await harness.send()
    for _ in range(4):
        with pytest.raises(InvalidCode):
            await verify_code(harness, request_id, wrong(content.code))
    await verify_code(harness, request_id, content.code)


async def test_expiry_boundary_and_expired_is_not_counted(harness: Harness) -> None:
    request_id, content = await harness.send()
    harness.clock.advance(299)
    await verify_code(harness, request_id, content.code)
    harness.clock.advance(61)
    late, late_content = await harness.send()
    harness.clock.advance(300.5)
    with pytest.raises(CredentialExpired):
        await verify_code(harness, late, late_content.code)
    stored = await harness.store.get(late)
    assert stored is not None and stored.attempts == 0


async def test_a_code_verifies_only_its_own_request(harness: Harness) -> None:
    a, code_a = await harness.send()
    b, code_b = await harness.send()
    for request_id, content in ((a, code_b), (b, code_a)):
        if content.code != (code_a if request_id == a else code_b).code:
            with pytest.raises(InvalidCode):
                await verify_code(harness, request_id, content.code)
    await verify_code(harness, b, code_b.code)


async def test_another_clients_request_is_unknown_and_untouched(harness: Harness) -> None:
    request_id, content = await harness.send()
    with pytest.raises(AuthRequestNotFound):
        await verify_code(harness, request_id, content.code, harness.other_caller)
    stored = await harness.store.get(request_id)
    assert stored is not None and stored.attempts == 0 and stored.consumed_at is None
    await verify_code(harness, request_id, content.code)


async def test_unknown_request(harness: Harness) -> None:
    with pytest.raises(AuthRequestNotFound):
        await verify_code(harness, "A" * 43, "123456")


async def test_success_closes_the_addresses_other_requests(harness: Harness) -> None:
    a, code_a = await harness.send()
    b, code_b = await harness.send()
    await verify_code(harness, a, code_a.code)
    with pytest.raises(CredentialExpired):
        await verify_code(harness, b, code_b.code)


async def test_new_credentials_on_resend_kill_the_old_code_and_link(harness: Harness) -> None:
    harness.with_policy(new_credentials_on_resend=True, passwordless_type=PasswordlessType.LINK_OTP)
    request_id, old = await harness.send(magiclink_auth_uri=MAGIC)
    await harness.flows.resend(harness.caller, request_id)
    new = harness.mail.last()
    old_token = old.link.split("link_token=")[1] if old.link else ""
    with pytest.raises(InvalidCode):
        await harness.flows.verify(harness.caller, VerifyCommand(link_token=old_token))
    if old.code != new.code:
        with pytest.raises(InvalidCode):
            await verify_code(harness, request_id, old.code)
    await verify_code(harness, request_id, new.code)


def token_of(link: str | None) -> str:
    assert link is not None
    return link.split("link_token=", 1)[1]


async def test_link_verifies_without_and_with_the_request_id(harness: Harness) -> None:
    harness.with_policy(passwordless_type=PasswordlessType.LINK)
    _, content = await harness.send(magiclink_auth_uri=MAGIC, state="st")
    result = await harness.flows.verify(harness.caller, VerifyCommand(link_token=token_of(content.link)))
    assert result.email == "alice@example.com" and result.state == "st"
    assert result.passwordless_type is PasswordlessType.LINK
    harness.clock.advance(61)
    request_id, content = await harness.send("bob@example.com", magiclink_auth_uri=MAGIC)
    await harness.flows.verify(
        harness.caller, VerifyCommand(link_token=token_of(content.link), auth_request_id=request_id)
    )


async def test_same_browser_enforcement_requires_the_request_id(harness: Harness) -> None:
    harness.with_policy(passwordless_type=PasswordlessType.LINK, enforce_same_browser_origin=True)
    request_id, content = await harness.send(magiclink_auth_uri=MAGIC)
    with pytest.raises(InvalidRequest) as info:
        await harness.flows.verify(harness.caller, VerifyCommand(link_token=token_of(content.link)))
    assert info.value.violations[0].field == "auth_request_id"
    stored = await harness.store.get(request_id)
    assert stored is not None and stored.attempts == 0  # nothing consumed or counted
    await harness.flows.verify(
        harness.caller, VerifyCommand(link_token=token_of(content.link), auth_request_id=request_id)
    )


async def test_mangled_link_tokens_are_invalid_and_the_real_one_still_works(harness: Harness) -> None:
    harness.with_policy(passwordless_type=PasswordlessType.LINK)
    a, content_a = await harness.send(magiclink_auth_uri=MAGIC)
    _, content_b = await harness.send("bob@example.com", magiclink_auth_uri=MAGIC)
    token = token_of(content_a.link)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    # Four wrong tries (the budget is five), then the real token still works.
    for bad in (token[:-1], flipped, token + "%3D"):
        with pytest.raises(InvalidCode):
            await harness.flows.verify(harness.caller, VerifyCommand(link_token=bad, auth_request_id=a))
    with pytest.raises(InvalidCode):
        await harness.flows.verify(
            harness.caller, VerifyCommand(link_token=token_of(content_b.link), auth_request_id=a)
        )
    await harness.flows.verify(harness.caller, VerifyCommand(link_token=token, auth_request_id=a))


async def test_a_code_cannot_verify_a_link_only_request(harness: Harness) -> None:
    harness.with_policy(passwordless_type=PasswordlessType.LINK)
    request_id, _ = await harness.send(magiclink_auth_uri=MAGIC)
    with pytest.raises(InvalidCode):
        await verify_code(harness, request_id, "123456")


@pytest.mark.parametrize(
    "command",
    [
        VerifyCommand(),
        VerifyCommand(code="123456"),
        VerifyCommand(code="123456", link_token="x", auth_request_id="abc"),
        VerifyCommand(code="1" * 21, auth_request_id="abc"),
        VerifyCommand(code="123456", auth_request_id="../../etc"),
        VerifyCommand(code="123456", auth_request_id="x" * 10_000),
        VerifyCommand(link_token="t" * 101),
    ],
)
async def test_malformed_verify_requests(harness: Harness, command: VerifyCommand) -> None:
    with pytest.raises(InvalidRequest):
        await harness.flows.verify(harness.caller, command)


async def test_parallel_wrong_guesses_are_capped_then_the_right_code_gets_429(harness: Harness) -> None:
    request_id, content = await harness.send()
    outcomes = await asyncio.gather(
        *(verify_code(harness, request_id, wrong(content.code)) for _ in range(50)), return_exceptions=True
    )
    evaluated = [o for o in outcomes if isinstance(o, InvalidCode)]
    refused = [o for o in outcomes if isinstance(o, TooManyAttempts)]
    assert len(evaluated) <= 5 and len(evaluated) + len(refused) == 50
    with pytest.raises(TooManyAttempts):
        await verify_code(harness, request_id, content.code)


async def test_parallel_right_codes_succeed_exactly_once(harness: Harness) -> None:
    request_id, content = await harness.send()
    outcomes = await asyncio.gather(
        *(verify_code(harness, request_id, content.code) for _ in range(20)), return_exceptions=True
    )
    successes = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(successes) == 1
    assert all(isinstance(o, KeylessError) for o in outcomes if isinstance(o, BaseException))
