"""The hosted sign-in: an authorization request waits while the user proves their address with the
emailed code or link, then becomes a browser session and an authorization code.

It drives the same passwordless flows as the headless API, acting for the client, with keyless's
own landing page as the only magic-link URI.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from dataclasses import dataclass

from keyless.clock import Clock
from keyless.core.credentials import generate_prefixed_id
from keyless.core.emails import parse_email
from keyless.core.flows.passwordless import (
    Caller,
    PasswordlessFlows,
    SendCommand,
    VerifyCommand,
    VerifyResult,
)
from keyless.core.models import AuthRequest, Client, Login, Session, TemplateType, User
from keyless.core.ports import ClientLookup, LoginStore, SessionStore, UserStore
from keyless.errors import AlreadyUsed, BrowserMismatch, CredentialExpired, LoginNotFound
from keyless.oidc.authorize import AuthorizationRequest
from keyless.oidc.issuer import CodeRequest, OidcIssuer

LOGIN_TTL = 30 * 60.0
AMR_FOR = {True: "link", False: "otp"}


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SignedIn:
    session: Session
    session_secret: str  # for the cookie; stored only hashed
    redirect_uri: str
    code: str
    state: str | None


class HostedSignin:
    def __init__(
        self,
        *,
        flows: PasswordlessFlows,
        logins: LoginStore,
        users: UserStore,
        sessions: SessionStore,
        clients: ClientLookup,
        issuer: OidcIssuer,
        clock: Clock,
        link_uri: str,
        session_ttl: int,
    ) -> None:
        self._flows = flows
        self._logins = logins
        self._users = users
        self._sessions = sessions
        self._clients = clients
        self._issuer = issuer
        self._clock = clock
        self._link_uri = link_uri
        self._session_ttl = session_ttl

    @property
    def sends_links(self) -> bool:
        return self._flows.policy.passwordless_type.has_link

    @property
    def enforce_same_browser(self) -> bool:
        return self._flows.policy.enforce_same_browser_origin

    async def start(self, request: AuthorizationRequest, browser_secret: str) -> Login:
        now = self._clock.now()
        login = Login(
            id=secrets.token_urlsafe(24),
            client_id=request.client.id,
            redirect_uri=request.redirect_uri,
            scope=request.scope,
            state=request.state,
            nonce=request.nonce,
            code_challenge=request.code_challenge,
            max_age=request.max_age if request.max_age is not None else (0 if "login" in request.prompt else None),
            login_hint=request.login_hint,
            browser_hash=secret_hash(browser_secret),
            created_at=now,
            expires_at=now + LOGIN_TTL,
        )
        await self._logins.create(login)
        return login

    async def login_for(self, login_id: str, browser_secret: str | None) -> Login:
        """The open sign-in this browser started."""
        login = await self._logins.get(login_id) if 0 < len(login_id) <= 64 else None
        if (
            login is None
            or login.completed_at is not None
            or login.expires_at <= self._clock.now()
            or browser_secret is None
            or not secrets.compare_digest(secret_hash(browser_secret), login.browser_hash)
        ):
            raise LoginNotFound()
        return login

    async def send(self, login: Login, email: str, ip: str) -> None:
        address = parse_email(email)
        existing = await self._users.get_by_email_key(address.key)
        caller = await self._caller(login, ip)
        result = await self._flows.send(
            caller,
            SendCommand(
                email=address.address,
                template=TemplateType.SIGNIN if existing else TemplateType.SIGNUP,
                magiclink_auth_uri=self._link_uri if self._flows.policy.passwordless_type.has_link else None,
            ),
        )
        await self._logins.attach(login.id, result.auth_request_id, address.address, self._clock.now())

    async def resend(self, login: Login, ip: str) -> None:
        if login.auth_request_id is None:
            raise LoginNotFound()
        await self._flows.resend(await self._caller(login, ip), login.auth_request_id)
        await self._logins.attach(login.id, login.auth_request_id, login.email or "", self._clock.now())

    async def verify_code(self, login: Login, code: str, ip: str) -> SignedIn:
        if login.auth_request_id is None:
            raise LoginNotFound()
        caller = await self._caller(login, ip)
        result = await self._flows.verify(caller, VerifyCommand(code=code, auth_request_id=login.auth_request_id))
        return await self._finish(login, result, by_link=False)

    async def link_request(self, link_token: str) -> tuple[AuthRequest, Login]:
        """Look a link up without using it (scanner-safe pages only look)."""
        request = await self._flows.find_link_request(link_token)
        login = await self._logins.get_by_auth_request(request.id) if request else None
        if request is None or login is None:
            raise CredentialExpired(message="This link is not valid any more. Request a new one.")
        if request.consumed_at is not None or login.completed_at is not None:
            raise AlreadyUsed(message="This link has already been used.")
        if request.closed_at is not None or request.is_expired(self._clock.now()):
            raise CredentialExpired(message="This link has expired. Request a new one.")
        return request, login

    async def verify_link(self, link_token: str, browser_secret: str | None, ip: str) -> SignedIn:
        request, login = await self.link_request(link_token)
        same_browser = browser_secret is not None and secrets.compare_digest(
            secret_hash(browser_secret), login.browser_hash
        )
        if self.enforce_same_browser and not same_browser:
            raise BrowserMismatch()  # nothing consumed, nothing counted
        caller = await self._caller(login, ip)
        result = await self._flows.verify(caller, VerifyCommand(link_token=link_token, auth_request_id=request.id))
        return await self._finish(login, result, by_link=True)

    async def _caller(self, login: Login, ip: str) -> Caller:
        client = await self._clients.get(login.client_id)
        if client is None:
            raise LoginNotFound()
        # keyless acts for the client here; its own landing page is the only magic-link URI.
        hosted: Client = dataclasses.replace(client, magiclink_uris=(self._link_uri,))
        return Caller(hosted, ip)

    async def _finish(self, login: Login, result: VerifyResult, *, by_link: bool) -> SignedIn:
        now = self._clock.now()
        if not await self._logins.complete(login.id, now):
            raise AlreadyUsed(message="This sign-in was already completed.")
        user = await self._users.record_login(
            User(
                id=generate_prefixed_id("usr"),
                email=result.email,
                email_key=result.email_key,
                email_verified=True,
                created_at=now,
            ),
            now,
        )
        session, session_secret = await self.new_session(user, AMR_FOR[by_link])
        code = await self._issuer.issue_code(
            CodeRequest(
                client_id=login.client_id,
                redirect_uri=login.redirect_uri,
                scope=login.scope,
                nonce=login.nonce,
                code_challenge=login.code_challenge,
                include_auth_time=login.max_age is not None,
            ),
            session,
        )
        return SignedIn(session, session_secret, login.redirect_uri, code, login.state)

    async def new_session(self, user: User, amr: str) -> tuple[Session, str]:
        now = self._clock.now()
        secret = secrets.token_urlsafe(32)
        session = Session(
            id=generate_prefixed_id("ses"),
            secret_hash=secret_hash(secret),
            user_id=user.id,
            auth_time=now,
            amr=amr,
            created_at=now,
            expires_at=now + self._session_ttl,
        )
        await self._sessions.create(session)
        return session, secret

    async def session_for(self, secret: str | None) -> Session | None:
        if not secret or len(secret) > 100:
            return None
        session = await self._sessions.get_by_secret_hash(secret_hash(secret))
        return session if session is not None and session.is_active(self._clock.now()) else None

    async def code_for_session(self, request: AuthorizationRequest, session: Session) -> str:
        """Single sign-on: an existing session answers the request without any page."""
        return await self._issuer.issue_code(
            CodeRequest(
                client_id=request.client.id,
                redirect_uri=request.redirect_uri,
                scope=request.scope,
                nonce=request.nonce,
                code_challenge=request.code_challenge,
                include_auth_time=request.max_age is not None,
            ),
            session,
        )

    async def end_session(self, secret: str | None) -> None:
        session = await self.session_for(secret)
        if session is not None:
            await self._sessions.end(session.id, self._clock.now())
