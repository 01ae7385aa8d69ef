"""The authorization code flow through the hosted pages, and the token endpoint's OIDC grants."""

from __future__ import annotations

import asyncio

from keyless.oidc.issuer import half_hash
from tests.integration.oidc.conftest import LOGOUT, REDIRECT, Oidc, decode, pkce, query_of


async def test_sign_in_with_the_emailed_code_and_exchange(oidc: Oidc) -> None:
    verifier, challenge = pkce()
    back = await oidc.sign_in(nonce="n-0S6_WzA2Mj", code_challenge=challenge, code_challenge_method="S256")
    assert back["state"] == "st-1" and back["iss"] == "http://localhost:8080"
    response = await oidc.exchange(back["code"], code_verifier=verifier)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert {"access_token", "id_token", "refresh_token", "expires_in", "token_type"} <= set(body)
    assert body["expires_in"] == 899
    claims = decode(body["id_token"])
    assert claims["iss"] == "http://localhost:8080" and claims["aud"] == [oidc.client_id]
    assert claims["azp"] == oidc.client_id == claims["client_id"]
    assert claims["email"] == "alice@example.com" and claims["email_verified"] is True
    assert claims["sub"].startswith("usr_") and claims["sid"].startswith("ses_")
    assert claims["nonce"] == "n-0S6_WzA2Mj" and claims["amr"] == ["otp"]
    assert claims["at_hash"] == half_hash(body["access_token"]) and claims["c_hash"] == half_hash(back["code"])
    access = decode(body["access_token"])
    assert access["sub"] == claims["sub"] and access["sid"] == claims["sid"]
    info = await oidc.http.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200 and info.json()["sub"] == claims["sub"]
    assert info.json()["email"] == "alice@example.com"


async def test_code_replay_fails_and_revokes_what_it_issued(oidc: Oidc) -> None:
    back = await oidc.sign_in()
    first = (await oidc.exchange(back["code"])).json()
    again = await oidc.exchange(back["code"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    info = await oidc.http.get("/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"})
    assert info.status_code == 401 and "invalid_token" in info.headers["www-authenticate"]
    refreshed = await oidc.http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": oidc.client_id,
            "client_secret": oidc.client_secret,
        },
    )
    assert refreshed.status_code == 400


async def test_code_is_bound_to_client_redirect_and_lifetime(oidc: Oidc) -> None:
    back = await oidc.sign_in()
    other, other_secret = await oidc.api.container.registry.register("b", redirect_uris=[REDIRECT], magiclink_uris=[])
    stolen = await oidc.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": back["code"],
            "redirect_uri": REDIRECT,
            "client_id": other.id,
            "client_secret": other_secret,
        },
    )
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    wrong_uri = await oidc.exchange(back["code"], redirect_uri=REDIRECT + "2")
    assert wrong_uri.status_code == 400
    oidc.api.clock.advance(61)
    late = await oidc.exchange(back["code"])
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"


async def test_pkce_rules(oidc: Oidc) -> None:
    verifier, challenge = pkce()
    back = await oidc.sign_in(code_challenge=challenge, code_challenge_method="S256")
    for bad in ("x" * 42, "x" * 129, "!" * 50, pkce()[0]):
        response = await oidc.exchange(back["code"], code_verifier=bad)
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    missing = await oidc.exchange(back["code"])
    assert missing.status_code == 400
    assert (await oidc.exchange(back["code"], code_verifier=verifier)).status_code == 200
    oidc.api.clock.advance(61)
    downgrade = await oidc.sign_in("bob@example.com")
    response = await oidc.exchange(downgrade["code"], code_verifier=verifier)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_plain_pkce_and_public_clients(oidc: Oidc) -> None:
    plain = await oidc.authorize(code_challenge="a" * 43, code_challenge_method="plain")
    assert query_of(plain.headers["location"])["error"] == "invalid_request"
    client, _ = await oidc.api.container.registry.register(
        "spa", redirect_uris=[REDIRECT], magiclink_uris=[], public=True
    )
    response = await oidc.http.get(
        "/oauth/authorize",
        params={
            "client_id": client.id,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid",
            "state": "s",
        },
    )
    back = query_of(response.headers["location"])
    assert back["error"] == "invalid_request" and back["state"] == "s" and back["iss"] == "http://localhost:8080"
    no_creds = await oidc.http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client.id})
    assert no_creds.status_code == 400 and no_creds.json()["error"] == "unauthorized_client"


async def test_refresh_rotates_and_reuse_revokes_the_family(oidc: Oidc) -> None:
    back = await oidc.sign_in()
    first = (await oidc.exchange(back["code"])).json()

    async def refresh(token: str) -> dict[str, object]:
        response = await oidc.http.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": token,
                "client_id": oidc.client_id,
                "client_secret": oidc.client_secret,
            },
        )
        return {"status": response.status_code, **response.json()}

    second = await refresh(first["refresh_token"])
    assert second["status"] == 200 and second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] and second["id_token"]
    third = await refresh(str(second["refresh_token"]))
    assert third["status"] == 200
    reuse = await refresh(first["refresh_token"])
    assert reuse["status"] == 400 and reuse["error"] == "invalid_grant"
    after = await refresh(str(third["refresh_token"]))
    assert after["status"] == 400  # the whole family died with the reuse


async def test_parallel_exchanges_of_one_code_issue_tokens_once(oidc: Oidc) -> None:
    back = await oidc.sign_in()
    responses = await asyncio.gather(*(oidc.exchange(back["code"]) for _ in range(10)))
    assert [r.status_code for r in responses].count(200) <= 1


async def test_session_gives_single_sign_on_and_prompt_none(oidc: Oidc) -> None:
    none_first = await oidc.authorize(prompt="none", state="x" * 128)
    back = query_of(none_first.headers["location"])
    assert back["error"] == "login_required" and back["state"] == "x" * 128 and "iss" in back
    await oidc.sign_in()
    again = await oidc.authorize(prompt="none")
    assert again.status_code == 303 and "code=" in again.headers["location"]
    plain = await oidc.authorize()
    assert plain.headers["location"].startswith(REDIRECT + "?code=")


async def test_prompt_login_and_max_age_force_a_new_sign_in(oidc: Oidc) -> None:
    first = await oidc.sign_in()
    token = (await oidc.exchange(first["code"])).json()
    forced = await oidc.authorize(prompt="login")
    assert forced.headers["location"].startswith("/signin/")
    oidc.api.clock.advance(2)
    stale = await oidc.authorize(max_age="1")
    assert stale.headers["location"].startswith("/signin/")
    oidc.api.clock.advance(61)
    second = await oidc.sign_in(max_age="1")
    claims = decode((await oidc.exchange(second["code"])).json()["id_token"])
    assert claims["auth_time"] > decode(token["id_token"]).get("auth_time", 0)


async def test_logout_ends_the_session_and_returns_with_state(oidc: Oidc) -> None:
    back = await oidc.sign_in()
    tokens = (await oidc.exchange(back["code"])).json()
    out = await oidc.http.get(
        "/oidc/logout",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGOUT, "state": "bye"},
    )
    assert out.status_code == 303 and out.headers["location"] == f"{LOGOUT}?state=bye"
    after = await oidc.authorize(prompt="none")
    assert query_of(after.headers["location"])["error"] == "login_required"
    info = await oidc.http.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 401
    unregistered = await oidc.http.get(
        "/oidc/logout",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://evil.example/"},
    )
    assert unregistered.status_code == 400 and "location" not in unregistered.headers


async def test_userinfo_three_ways_and_revocation(oidc: Oidc) -> None:
    back = await oidc.sign_in()
    tokens = (await oidc.exchange(back["code"])).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    subs = {
        (await oidc.http.get("/userinfo", headers=bearer)).json()["sub"],
        (await oidc.http.post("/userinfo", headers=bearer)).json()["sub"],
        (await oidc.http.post("/userinfo", data={"access_token": tokens["access_token"]})).json()["sub"],
    }
    assert len(subs) == 1
    tampered = tokens["access_token"][:-4] + "AAAA"
    bad = await oidc.http.get("/userinfo", headers={"Authorization": f"Bearer {tampered}"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
    revoked = await oidc.http.post(
        "/oauth/revoke",
        data={
            "token": tokens["refresh_token"],
            "client_id": oidc.client_id,
            "client_secret": oidc.client_secret,
        },
    )
    assert revoked.status_code == 200
    assert (await oidc.http.get("/userinfo", headers=bearer)).status_code == 401


async def test_first_sign_in_gets_sign_up_wording_then_sign_in(oidc: Oidc) -> None:
    first = await oidc.sign_in("new@example.com")
    claims = decode((await oidc.exchange(first["code"])).json()["id_token"])
    oidc.api.clock.advance(61)
    await oidc.sign_in("new@example.com")
    subjects = [m.message["Subject"] for m in oidc.api.smtp.to("new@example.com")]
    assert len(subjects) == 2 and subjects[0] != subjects[1]
    assert "sign-in" in subjects[1].lower() or "sign in" in subjects[1].lower()
    user = await oidc.api.container.users.get_by_email_key("new@example.com")
    assert user is not None and user.email_verified and user.id.startswith("usr_")
    assert claims["sub"] == user.id


async def test_no_nonce_means_no_nonce_claim(oidc: Oidc) -> None:
    back = await oidc.sign_in()
    claims = decode((await oidc.exchange(back["code"])).json()["id_token"])
    assert "nonce" not in claims and "auth_time" in claims  # prompt=login asked for a fresh sign-in


async def test_discovery_lists_only_what_is_supported(oidc: Oidc) -> None:
    meta = (await oidc.http.get("/.well-known/openid-configuration")).json()
    assert meta["issuer"] == "http://localhost:8080"
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert set(meta["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials"}
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert "profile" not in meta["scopes_supported"] and "implicit" not in str(meta)
