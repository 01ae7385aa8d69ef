"""security.md §B3 (browser parts), §B4 and §B5 against the hosted pages and /oauth/authorize."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from keyless.core.models import PasswordlessType
from tests.integration.oidc.conftest import REDIRECT, Oidc, csrf_of, query_of

FRAMING = ("content-security-policy", "x-frame-options")


def assert_page_headers(response: httpx.Response) -> None:
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "redirect_uri",
    [
        REDIRECT + "/",
        REDIRECT.replace("/cb", "/CB"),
        REDIRECT + "?x=1",
        REDIRECT + "#f",
        REDIRECT.replace("https", "http"),
        "https://app.example.com:444/cb",
        "https://app.example.com.evil.example/cb",
        "https://app.example.com@evil.example/cb",
        "https://evil.example\\@app.example.com/cb",
        "https://app.example.com/cb/../x",
        "https://app.example.com/..;/cb",
        "https://app.example.com/%63b",
        None,
    ],
)
async def test_redirect_uri_near_misses_get_an_error_page_and_no_redirect(oidc: Oidc, redirect_uri: str | None) -> None:
    params = oidc.authorize_params(login_hint="alice@example.com")
    if redirect_uri is None:
        del params["redirect_uri"]
    else:
        params["redirect_uri"] = redirect_uri
    response = await oidc.http.get("/oauth/authorize", params=params)
    assert response.status_code == 400 and "location" not in response.headers
    assert "redirect URI is not registered" in response.text
    assert_page_headers(response)


async def test_unknown_client_gets_an_error_page_and_no_mail(oidc: Oidc) -> None:
    response = await oidc.http.get(
        "/oauth/authorize",
        params={
            "client_id": "nope",
            "redirect_uri": "https://evil.example/cb",
            "response_type": "code",
            "scope": "openid",
            "login_hint": "alice@example.com",
        },
    )
    assert response.status_code == 400 and "location" not in response.headers
    assert_page_headers(response)
    assert oidc.api.smtp.messages == []


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"response_type": ""}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"scope": "email"}, "invalid_scope"),
        ({"request": "eyJ.x.y"}, "request_not_supported"),
        ({"request_uri": "https://evil.example/r"}, "request_uri_not_supported"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"code_challenge_method": "S256"}, "invalid_request"),
    ],
)
async def test_errors_after_the_redirect_is_trusted_go_back_with_state_and_iss(
    oidc: Oidc, extra: dict[str, str], error: str
) -> None:
    state = "-._~%2F" + "s" * 121
    response = await oidc.authorize(**{"state": state, **extra})
    assert response.status_code in (302, 303)
    back = query_of(response.headers["location"])
    assert back["error"] == error and back["state"] == state and back["iss"] == "http://localhost:8080"
    assert response.headers["location"].startswith(REDIRECT + "?")


async def test_unknown_and_display_parameters_are_ignored(oidc: Oidc) -> None:
    response = await oidc.authorize(
        foo="bar",
        display="popup",
        ui_locales="fr <x>",
        claims_locales="de",
        acr_values="x",
        claims="{}",
        domain="example.com",
        domain_hint="example.com",
        id_token_hint="x.y.z",
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/signin/")


async def test_authorize_by_post_works(oidc: Oidc) -> None:
    response = await oidc.http.post("/oauth/authorize", data=oidc.authorize_params())
    assert response.status_code == 303 and response.headers["location"].startswith("/signin/")


async def test_get_never_sends_mail_and_hints_are_escaped(oidc: Oidc) -> None:
    hint = '"><script>alert(1)</script>'
    for _ in range(3):
        started = await oidc.authorize(login_hint=hint, state="<script>")
        page = await oidc.http.get(started.headers["location"])
        assert "<script>alert(1)" not in page.text and "&#34;&gt;&lt;script&gt;" in page.text
        assert_page_headers(page)
    assert oidc.api.smtp.messages == []


async def test_posts_need_the_csrf_token_of_this_browser(oidc: Oidc) -> None:
    started = await oidc.authorize()
    location = started.headers["location"]
    page = await oidc.http.get(location)
    no_token = await oidc.http.post(f"{location}/email", data={"email": "alice@example.com"})
    assert no_token.status_code == 403
    other_browser = httpx.AsyncClient(transport=oidc.http._transport, base_url="http://localhost:8080")
    async with other_browser:
        stolen = await other_browser.post(
            f"{location}/email", data={"email": "alice@example.com", "csrf": csrf_of(page.text)}
        )
    assert stolen.status_code in (403, 404)
    cross_site = await oidc.http.post(
        f"{location}/email",
        data={"email": "alice@example.com", "csrf": csrf_of(page.text)},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403
    assert oidc.api.smtp.messages == []


async def test_login_csrf_with_an_attackers_code_is_refused(oidc: Oidc) -> None:
    # The attacker starts a sign-in in their own browser for eve@evil.example ...
    attacker = httpx.AsyncClient(transport=oidc.http._transport, base_url="http://localhost:8080")
    async with attacker:
        started = await attacker.get("/oauth/authorize", params=oidc.authorize_params())
        location = started.headers["location"]
        page = await attacker.get(location)
        await attacker.post(f"{location}/email", data={"csrf": csrf_of(page.text), "email": "eve@evil.example"})
        code = (await oidc.api.smtp.wait_for("eve@evil.example"))[0].code
        # ... and makes the victim's browser post it cross-site.
        forced = await oidc.http.post(f"{location}/code", data={"code": code}, headers={"Sec-Fetch-Site": "cross-site"})
        assert forced.status_code == 403 and "keyless_session" not in forced.headers.get("set-cookie", "")
        # eve's code was not consumed: the attacker's own browser can still use it.
        code_page = await attacker.get(f"{location}/code")
        done = await attacker.post(f"{location}/code", data={"csrf": csrf_of(code_page.text), "code": code})
        assert done.status_code == 303


async def test_session_cookie_is_new_and_flagged(oidc: Oidc) -> None:
    oidc.http.cookies.set("keyless_session", "attacker-planted", domain="localhost.local")
    await oidc.sign_in()
    issued = [c.value for c in oidc.http.cookies.jar if c.name == "keyless_session" and c.value != "attacker-planted"]
    assert len(issued) == 1 and issued[0] and len(issued[0]) >= 43
    # The planted value is not a session: a prompt=none request from a jar holding only it fails.
    planted = httpx.AsyncClient(transport=oidc.http._transport, base_url="http://localhost:8080")
    async with planted:
        planted.cookies.set("keyless_session", "attacker-planted")
        response = await planted.get("/oauth/authorize", params=oidc.authorize_params(prompt="none"))
        assert query_of(response.headers["location"])["error"] == "login_required"
    started = await oidc.authorize(prompt="login")
    page = await oidc.http.get(started.headers["location"])
    await oidc.http.post(
        f"{started.headers['location']}/email", data={"csrf": csrf_of(page.text), "email": "b@example.com"}
    )
    code_page = await oidc.http.get(f"{started.headers['location']}/code")
    mail = (await oidc.api.smtp.wait_for("b@example.com"))[-1]
    done = await oidc.http.post(
        f"{started.headers['location']}/code", data={"csrf": csrf_of(code_page.text), "code": mail.code}
    )
    assert done.status_code == 303
    set_cookie = done.headers["set-cookie"].lower()
    for flag in ("httponly", "samesite=lax", "path=/"):
        assert flag in set_cookie
    assert "domain=" not in set_cookie


async def test_no_cors_on_authorize_and_pages(oidc: Oidc) -> None:
    for path in ("/oauth/authorize", "/signin/x/code"):
        response = await oidc.http.options(
            path, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in response.headers


async def test_wrong_code_page_says_what_to_do(oidc: Oidc) -> None:
    started = await oidc.authorize()
    location = started.headers["location"]
    page = await oidc.http.get(location)
    await oidc.http.post(f"{location}/email", data={"csrf": csrf_of(page.text), "email": "w@example.com"})
    code_page = await oidc.http.get(f"{location}/code")
    assert 'autocomplete="one-time-code"' in code_page.text
    assert_page_headers(code_page)
    mail = (await oidc.api.smtp.wait_for("w@example.com"))[0]
    wrong = f"{(int(mail.code) + 1) % 1_000_000:06d}"
    response = await oidc.http.post(f"{location}/code", data={"csrf": csrf_of(code_page.text), "code": wrong})
    assert response.status_code == 400 and "not right" in response.text
    for _ in range(4):
        response = await oidc.http.post(f"{location}/code", data={"csrf": csrf_of(code_page.text), "code": wrong})
    final = await oidc.http.post(f"{location}/code", data={"csrf": csrf_of(code_page.text), "code": mail.code})
    assert final.status_code == 429 and "Too many wrong codes" in final.text


def link_mode(oidc: Oidc, *, same_browser: bool = False) -> None:
    flows = oidc.api.container.flows
    flows.policy = dataclasses.replace(
        flows.policy, passwordless_type=PasswordlessType.LINK_OTP, enforce_same_browser_origin=same_browser
    )


async def start_link_sign_in(oidc: Oidc, email: str) -> tuple[str, str]:
    started = await oidc.authorize(state="link-state")
    location = started.headers["location"]
    page = await oidc.http.get(location)
    await oidc.http.post(f"{location}/email", data={"csrf": csrf_of(page.text), "email": email})
    mail = (await oidc.api.smtp.wait_for(email))[0]
    assert mail.link.startswith("http://localhost:8080/signin/link?link_token=")
    return location, mail.link.removeprefix("http://localhost:8080")


async def test_magic_link_is_scanner_safe(oidc: Oidc) -> None:
    link_mode(oidc)
    _, path = await start_link_sign_in(oidc, "scan@example.com")
    scanner = httpx.AsyncClient(transport=oidc.http._transport, base_url="http://localhost:8080")
    async with scanner:
        for _ in range(3):
            assert (await scanner.head(path)).status_code == 200
            landing = await scanner.get(path)
            assert landing.status_code == 200 and "keyless_session" not in landing.headers.get("set-cookie", "")
            assert_page_headers(landing)
    landing = await oidc.http.get(path)
    assert "data-autosubmit" in landing.text and '<script src="/static/autosubmit.js"></script>' in landing.text
    token = path.split("link_token=")[1]
    done = await oidc.http.post("/signin/link", data={"csrf": csrf_of(landing.text), "link_token": token})
    assert done.status_code == 303 and query_of(done.headers["location"])["state"] == "link-state"
    again = await oidc.http.post("/signin/link", data={"csrf": csrf_of(landing.text), "link_token": token})
    assert again.status_code == 400


async def test_link_opened_in_another_browser_without_enforcement_signs_that_browser_in(oidc: Oidc) -> None:
    link_mode(oidc)
    _, path = await start_link_sign_in(oidc, "phone@example.com")
    phone = httpx.AsyncClient(transport=oidc.http._transport, base_url="http://localhost:8080")
    async with phone:
        landing = await phone.get(path)
        token = path.split("link_token=")[1]
        done = await phone.post("/signin/link", data={"csrf": csrf_of(landing.text), "link_token": token})
        assert done.status_code == 303 and "code=" in done.headers["location"]


async def test_same_browser_enforcement_explains_and_consumes_nothing(oidc: Oidc) -> None:
    link_mode(oidc, same_browser=True)
    _, path = await start_link_sign_in(oidc, "same@example.com")
    token = path.split("link_token=")[1]
    other = httpx.AsyncClient(transport=oidc.http._transport, base_url="http://localhost:8080")
    async with other:
        landing = await other.get(path)
        assert landing.status_code == 403 and "browser where you started" in landing.text
        assert_page_headers(landing)
        forced = await other.post(
            "/signin/link", data={"csrf": csrf_of(landing.text) if "csrf" in landing.text else "", "link_token": token}
        )
        assert forced.status_code == 403
    mine = await oidc.http.get(path)
    done = await oidc.http.post("/signin/link", data={"csrf": csrf_of(mine.text), "link_token": token})
    assert done.status_code == 303 and "code=" in done.headers["location"]


async def test_every_html_and_json_response_forbids_framing(oidc: Oidc) -> None:
    for path in ("/signin/unknown", "/no/such/page", "/oauth/authorize?client_id=bogus", "/keys"):
        response = await oidc.http.get(path)
        for header in FRAMING:
            assert header in response.headers
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
