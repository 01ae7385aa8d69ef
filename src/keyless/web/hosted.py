"""The hosted sign-in pages and ``/oauth/authorize``.

Every page is server-rendered and works without JavaScript. A GET never sends mail or uses a
credential; every state-changing POST carries a CSRF token bound to this browser.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from keyless.clock import Clock
from keyless.core.models import Login, Session
from keyless.core.ports import ClientLookup
from keyless.errors import (
    AlreadyUsed,
    BrowserMismatch,
    CredentialExpired,
    CsrfFailed,
    InvalidCode,
    InvalidEmail,
    InvalidRequest,
    KeylessError,
    LoginNotFound,
    RateLimited,
    TooManyAttempts,
)
from keyless.oidc.authorize import (
    AuthorizationRequest,
    AuthorizeFatal,
    AuthorizeRedirect,
    validate_authorization_request,
)
from keyless.oidc.errors import OAuthError
from keyless.oidc.signin import HostedSignin, SignedIn
from keyless.web.browser import BrowserCookies
from keyless.web.clientip import ClientIpResolver
from keyless.web.oauth import read_form
from keyless.web.pages import render_page


def friendly(error: KeylessError) -> str:
    """What the person at the page reads: what happened and what to do next."""
    minutes = max(1, round((error.retry_after or 60) / 60))
    messages: dict[type[KeylessError], str] = {
        InvalidCode: "That code is not right. Check the latest email and try again.",
        CredentialExpired: "That code has expired. Send a new one below.",
        AlreadyUsed: "That code or link was already used. If you are not signed in, start again from the app.",
        TooManyAttempts: f"Too many wrong codes. Wait about {minutes} minute(s), then start again from the app.",
        RateLimited: f"You asked for several emails. Wait {error.retry_after or 60} seconds before asking again.",
        InvalidEmail: "That does not look like an email address. Check it and try again.",
        CsrfFailed: CsrfFailed.default_message,
        LoginNotFound: LoginNotFound.default_message,
        BrowserMismatch: BrowserMismatch.default_message,
    }
    return messages.get(type(error), error.message)


def redirect_to_client(uri: str, params: dict[str, str | None]) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return RedirectResponse(f"{uri}{'&' if '?' in uri else '?'}{query}", status_code=303)


async def _form(request: Request) -> dict[str, str]:
    try:
        return await read_form(request)
    except OAuthError as exc:
        raise InvalidRequest(message=exc.description) from None


def build_router(
    *,
    signin: HostedSignin,
    clients: ClientLookup,
    cookies: BrowserCookies,
    ips: ClientIpResolver,
    clock: Clock,
    issuer: str,
    resend_cooldown: int,
) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def error_page(
        request: Request, message: str, status: int = 400, title: str = "Something went wrong"
    ) -> HTMLResponse:
        return render_page(request, "error.html", {"title": title, "message": message}, status_code=status)

    def signed_in(result: SignedIn) -> Response:
        response = redirect_to_client(result.redirect_uri, {"code": result.code, "state": result.state, "iss": issuer})
        cookies.set_session(response, result.session_secret)
        return response

    def needs_fresh_sign_in(request_: AuthorizationRequest, session: Session) -> bool:
        if "login" in request_.prompt:
            return True
        return request_.max_age is not None and clock.now() - session.auth_time > request_.max_age

    async def authorize(request: Request, params: dict[str, str]) -> Response:
        try:
            authz = await validate_authorization_request(params, clients)
        except AuthorizeFatal as fatal:
            return error_page(request, str(fatal), title="This sign-in link is not valid")
        except AuthorizeRedirect as err:
            return redirect_to_client(
                err.redirect_uri,
                {"error": err.error, "error_description": err.description, "state": err.state, "iss": issuer},
            )
        session = await signin.session_for(cookies.session_secret(request))
        if session is not None and not needs_fresh_sign_in(authz, session):
            code = await signin.code_for_session(authz, session)
            return redirect_to_client(authz.redirect_uri, {"code": code, "state": authz.state, "iss": issuer})
        if "none" in authz.prompt:
            return redirect_to_client(
                authz.redirect_uri,
                {
                    "error": "login_required",
                    "error_description": "The user is not signed in.",
                    "state": authz.state,
                    "iss": issuer,
                },
            )
        secret, fresh = cookies.ensure_browser_secret(request)
        login = await signin.start(authz, secret)
        response = RedirectResponse(f"/signin/{login.id}", status_code=303)
        if fresh:
            cookies.set_browser(response, secret)
        return response

    @router.get("/oauth/authorize")
    async def authorize_get(request: Request) -> Response:
        return await authorize(request, dict(request.query_params))

    @router.post("/oauth/authorize")
    async def authorize_post(request: Request) -> Response:
        form = await _form(request)
        return await authorize(request, form)

    # --- magic links: looking is free, only the POST from our page signs in ------------------------

    @router.api_route("/signin/link", methods=["GET", "HEAD"])
    async def link_landing(request: Request, link_token: str = "") -> Response:
        secret, fresh = cookies.ensure_browser_secret(request)
        try:
            _, login = await signin.link_request(link_token)
            same = not fresh and await _same_browser(login, secret)
            if signin.enforce_same_browser and not same:
                raise BrowserMismatch()
            response: Response = render_page(
                request,
                "signin_link.html",
                {"link_token": link_token, "csrf": cookies.csrf_token(secret)},
                form_targets=(login.redirect_uri,),
            )
        except BrowserMismatch as exc:
            response = render_page(request, "signin_mismatch.html", {"message": friendly(exc)}, status_code=403)
        except KeylessError as exc:
            response = error_page(request, friendly(exc), title="This link cannot be used")
        if fresh:
            cookies.set_browser(response, secret)
        return response

    async def _same_browser(login: Login, secret: str) -> bool:
        try:
            await signin.login_for(login.id, secret)
        except LoginNotFound:
            return False
        return True

    @router.post("/signin/link")
    async def link_confirm(request: Request) -> Response:
        form = await _form(request)
        link_token = str(form.get("link_token", ""))[:100]
        try:
            secret = cookies.check_form(request, str(form.get("csrf", "")))
            result = await signin.verify_link(link_token, secret, ips.resolve(request))
        except BrowserMismatch as exc:
            return render_page(request, "signin_mismatch.html", {"message": friendly(exc)}, status_code=403)
        except KeylessError as exc:
            return error_page(request, friendly(exc), status=exc.http_status, title="This link cannot be used")
        return signed_in(result)

    # --- the pages -------------------------------------------------------------------------------

    def page_context(login: Login, browser_secret: str, **extra: Any) -> dict[str, Any]:
        return {
            "login": login,
            "csrf": cookies.csrf_token(browser_secret),
            "link_too": signin.sends_links,
            **extra,
        }

    async def current_login(request: Request, login_id: str) -> tuple[Login, str]:
        secret = cookies.browser_secret(request)
        return await signin.login_for(login_id, secret), secret or ""

    def cooldown_left(login: Login) -> int:
        if login.last_sent_at is None:
            return 0
        return max(0, int(login.last_sent_at + resend_cooldown - clock.now() + 0.999))

    async def email_page(
        request: Request, login_id: str, error: str | None = None, email: str | None = None
    ) -> Response:
        try:
            login, secret = await current_login(request, login_id)
        except LoginNotFound as exc:
            return error_page(request, friendly(exc), status=404)
        value = email if email is not None else (login.email or login.login_hint or "")
        return render_page(
            request,
            "signin_email.html",
            page_context(login, secret, email=value, error=error),
        )

    async def code_page(
        request: Request, login: Login, secret: str, error: str | None = None, status: int = 200
    ) -> Response:
        return render_page(
            request,
            "signin_code.html",
            page_context(login, secret, error=error, cooldown=cooldown_left(login)),
            status_code=status,
            form_targets=(login.redirect_uri,),
        )

    @router.get("/signin/{login_id}")
    async def show_email(request: Request, login_id: str) -> Response:
        return await email_page(request, login_id)

    @router.post("/signin/{login_id}/email")
    async def send_email(request: Request, login_id: str) -> Response:
        form = await _form(request)
        email = str(form.get("email", ""))[:400]
        try:
            cookies.check_form(request, str(form.get("csrf", "")))
            login, _ = await current_login(request, login_id)
            await signin.send(login, email, ips.resolve(request))
        except (InvalidEmail, RateLimited) as exc:
            return await email_page(request, login_id, friendly(exc), email=email)
        except KeylessError as exc:
            return error_page(request, friendly(exc), status=exc.http_status)
        return RedirectResponse(f"/signin/{login_id}/code", status_code=303)

    @router.get("/signin/{login_id}/code")
    async def show_code(request: Request, login_id: str) -> Response:
        try:
            login, secret = await current_login(request, login_id)
        except LoginNotFound as exc:
            return error_page(request, friendly(exc), status=404)
        if login.auth_request_id is None:
            return RedirectResponse(f"/signin/{login_id}", status_code=303)
        return await code_page(request, login, secret)

    @router.post("/signin/{login_id}/code")
    async def submit_code(request: Request, login_id: str) -> Response:
        form = await _form(request)
        try:
            cookies.check_form(request, str(form.get("csrf", "")))
            login, secret = await current_login(request, login_id)
        except KeylessError as exc:
            return error_page(request, friendly(exc), status=exc.http_status)
        code = "".join(str(form.get("code", "")).split())[:20]
        try:
            result = await signin.verify_code(login, code, ips.resolve(request))
        except (InvalidCode, CredentialExpired, TooManyAttempts, RateLimited, InvalidRequest) as exc:
            return await code_page(request, login, secret, friendly(exc), status=exc.http_status)
        except KeylessError as exc:
            return error_page(request, friendly(exc), status=exc.http_status)
        return signed_in(result)

    @router.post("/signin/{login_id}/resend")
    async def resend(request: Request, login_id: str) -> Response:
        form = await _form(request)
        try:
            cookies.check_form(request, str(form.get("csrf", "")))
            login, secret = await current_login(request, login_id)
        except KeylessError as exc:
            return error_page(request, friendly(exc), status=exc.http_status)
        if cooldown_left(login) > 0:
            return await code_page(request, login, secret, f"Wait {cooldown_left(login)} seconds before asking again.")
        try:
            await signin.resend(login, ips.resolve(request))
        except KeylessError as exc:
            return await code_page(request, login, secret, friendly(exc), status=exc.http_status)
        return RedirectResponse(f"/signin/{login_id}/code?sent=1", status_code=303)

    return router
