"""Every guarantee across two real keyless processes on one PostgreSQL and one Redis.

Requests are split between the processes and fired at the same instant, so the invariants are
checked where they could break: in the database and in Redis, not inside one process.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.cluster import (
    MAGICLINK_URI,
    REDIRECT_URI,
    Cluster,
    StallingSmtpSink,
    gather_posts,
    wait_until,
)
from tests.support.flows import SEND, VERIFY, Browser, csrf_of, error_code, exchange_request, send, split, start_sign_in

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


async def test_ten_concurrent_sends_for_one_address_admit_exactly_two(cluster: Cluster, smtp: StallingSmtpSink) -> None:
    auth, email = cluster.token(), "ten@example.com"
    body = {"email": email, "magiclink_auth_uri": MAGICLINK_URI}
    responses = await gather_posts(split(cluster, SEND, 10, json=body, headers=auth))
    assert sorted(r.status_code for r in responses) == [200] * 2 + [429] * 8, [r.text for r in responses]
    for refused in (r for r in responses if r.status_code == 429):
        assert error_code(refused) == "RATE_LIMITED" and 1 <= int(refused.headers["retry-after"]) <= 60
    await smtp.wait_for(email, 2)
    await asyncio.sleep(2.5)  # past a poll interval: a duplicate or a third mail would be here by now
    assert len(smtp.to(email)) == 2


@pytest.mark.parametrize("by", ["code", "link_token"])
async def test_twenty_concurrent_correct_verifies_succeed_exactly_once(
    cluster: Cluster, smtp: StallingSmtpSink, by: str
) -> None:
    auth, email = cluster.token(), f"once-{by}@example.com"
    sent = send(cluster, cluster.urls[0], auth, email)
    mail = (await smtp.wait_for(email))[0]
    body = {"code": mail.code, "auth_request_id": sent["auth_request_id"]} if by == "code" else {}
    if by == "link_token":
        body = {"link_token": mail.link_token}
    responses = await gather_posts(split(cluster, VERIFY, 20, json=body, headers=auth))
    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1 and winners[0].json()["email"] == email
    losers = {(r.status_code, error_code(r)) for r in responses if r.status_code != 200}
    assert losers <= {(400, "ALREADY_USED"), (429, "TOO_MANY_ATTEMPTS")}, losers


async def test_fifty_concurrent_wrong_guesses_evaluate_at_most_five(cluster: Cluster, smtp: StallingSmtpSink) -> None:
    auth, email = cluster.token(), "guess@example.com"
    # Two open requests for one address: 5 attempts each, but 5 per address across both.
    requests = [send(cluster, url, auth, email)["auth_request_id"] for url in cluster.urls]
    mails = await smtp.wait_for(email, 2)
    right = {m.code for m in mails}
    guesses = []
    for i in range(50):
        wrong = f"{(i * 7919 + 1) % 10**6:06d}"
        while wrong in right:
            wrong = f"{(int(wrong) + 1) % 10**6:06d}"
        url = cluster.urls[i % 2]
        guesses.append(
            (f"{url}{VERIFY}", {"json": {"code": wrong, "auth_request_id": requests[i % 2]}, "headers": auth})
        )
    responses = await gather_posts(guesses)
    outcomes = [(r.status_code, error_code(r)) for r in responses]
    evaluated = [o for o in outcomes if o == (400, "INVALID_CODE")]
    assert len(evaluated) <= 5, outcomes
    assert set(outcomes) <= {(400, "INVALID_CODE"), (429, "TOO_MANY_ATTEMPTS")}
    # The budget is spent: even the right code is refused now, on either process, for either request.
    for i, request_id in enumerate(requests):
        for code in right:
            response = httpx.post(
                f"{cluster.urls[i]}{VERIFY}", json={"code": code, "auth_request_id": request_id}, headers=auth
            )
            assert response.status_code == 429 and error_code(response) == "TOO_MANY_ATTEMPTS"


# --- the hosted flow: magic-link POST and the authorization-code exchange ---------------------------


async def test_magic_link_post_and_code_exchange_succeed_exactly_once(cluster: Cluster, smtp: StallingSmtpSink) -> None:
    a, b = cluster.urls
    browser, email = Browser(), "hosted@example.com"
    start_sign_in(cluster, browser, a, email)
    token = (await smtp.wait_for(email))[0].link_token
    landing = browser.get(f"{b}/signin/link", params={"link_token": token})  # looking consumes nothing
    assert landing.status_code == 200
    form = {"link_token": token, "csrf": csrf_of(landing.text)}
    posts = await gather_posts(split(cluster, "/signin/link", 20, data=form, headers=browser.header))
    signed_in = [r for r in posts if r.status_code == 303 and r.headers["location"].startswith(REDIRECT_URI)]
    assert len(signed_in) == 1, [(r.status_code, r.text[:200]) for r in posts]
    assert all(r.status_code in (400, 429) for r in posts if r not in signed_in)
    code = parse_qs(urlsplit(signed_in[0].headers["location"]).query)["code"][0]

    exchanges = await gather_posts([exchange_request(cluster, cluster.urls[i % 2], code) for i in range(20)])
    issued = [r for r in exchanges if r.status_code == 200]
    assert len(issued) == 1 and "id_token" in issued[0].json()
    assert {(r.status_code, r.json()["error"]) for r in exchanges if r.status_code != 200} == {(400, "invalid_grant")}


# --- a process killed in the middle --------------------------------------------------------------------


async def test_mail_held_by_a_killed_process_is_delivered_once_by_the_other(
    cluster: Cluster, smtp: StallingSmtpSink
) -> None:
    a, b = cluster.urls
    auth, email = cluster.token(), "orphan@example.com"
    smtp.stall_first(email, 60)  # process A's delivery hangs at the mail server...
    sent = send(cluster, a, auth, email)
    wait_until(lambda: smtp.stalled(email), 10, "process A never started delivering")
    cluster.kill(0)  # ...and A dies with the message leased to it
    # B's outbox poller takes the message over once A's lease lapses (2 x 3 x smtp timeout + 10 s).
    mail = (await smtp.wait_for(email, 1, timeout=45))[0]
    verified = httpx.post(
        f"{b}{VERIFY}", json={"code": mail.code, "auth_request_id": sent["auth_request_id"]}, headers=auth
    )
    assert verified.status_code == 200, verified.text
    await asyncio.sleep(2.5)
    assert len(smtp.to(email)) == 1


async def test_a_sign_in_started_on_a_killed_process_completes_on_the_other(
    cluster: Cluster, smtp: StallingSmtpSink
) -> None:
    a, b = cluster.urls
    browser, email = Browser(), "survivor@example.com"
    page_path = start_sign_in(cluster, browser, a, email)
    mail = (await smtp.wait_for(email))[0]
    cluster.kill(0)
    code_page = browser.get(f"{b}{page_path}/code")
    assert code_page.status_code == 200, code_page.text
    done = browser.post(f"{b}{page_path}/code", {"csrf": csrf_of(code_page.text), "code": mail.code})
    assert done.status_code == 303 and done.headers["location"].startswith(REDIRECT_URI), done.text
    code = parse_qs(urlsplit(done.headers["location"]).query)["code"][0]
    url, kwargs = exchange_request(cluster, b, code)
    tokens = httpx.post(url, **kwargs)
    assert tokens.status_code == 200, tokens.text
    info = httpx.get(f"{b}/userinfo", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"})
    assert info.status_code == 200 and info.json()["email"] == email
