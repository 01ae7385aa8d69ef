"""Send, resend and verify: every passwordless rule of the design lives here and only here."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from keyless.clock import Clock
from keyless.core.credentials import (
    CredentialHasher,
    Sealer,
    generate_link_token,
    generate_otp,
    generate_prefixed_id,
    generate_request_id,
)
from keyless.core.emails import parse_email
from keyless.core.events import EventSink, email_fingerprint
from keyless.core.models import (
    AuthRequest,
    Client,
    Credentials,
    EmailContent,
    OutboxMessage,
    OutboxStatus,
    PasswordlessType,
    TemplateType,
)
from keyless.core.policies import PasswordlessPolicy, RateRules
from keyless.core.ports import AuthRequestStore, LimitHit, MailDispatcher, OutboxStore, RateLimiter
from keyless.errors import (
    AlreadyUsed,
    AuthRequestNotFound,
    CredentialExpired,
    FieldViolation,
    InvalidCode,
    InvalidRequest,
    KeylessError,
    MagicLinkUriNotAllowed,
    RateLimited,
    TooManyAttempts,
)


@dataclass(frozen=True, slots=True)
class Caller:
    client: Client
    ip: str


@dataclass(frozen=True, slots=True)
class SendCommand:
    email: str
    template: TemplateType | None = None
    magiclink_auth_uri: str | None = None
    state: str | None = None
    expires_in: int | None = None
    template_variables: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    auth_request_id: str
    expires_at: int
    expires_in: int
    passwordless_type: PasswordlessType


@dataclass(frozen=True, slots=True)
class VerifyCommand:
    code: str | None = None
    link_token: str | None = None
    auth_request_id: str | None = None


@dataclass(frozen=True, slots=True)
class VerifyResult:
    auth_request_id: str
    email: str
    email_key: str
    state: str | None
    template: TemplateType | None
    passwordless_type: PasswordlessType


def build_magic_link(base_uri: str, token: str) -> str:
    """``base_uri`` with ``link_token`` added to its query; the existing query is kept."""
    parts = urlsplit(base_uri)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "link_token"]
    query.append(("link_token", token))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


class PasswordlessFlows:
    def __init__(
        self,
        *,
        requests: AuthRequestStore,
        outbox: OutboxStore,
        limiter: RateLimiter,
        rules: RateRules,
        hasher: CredentialHasher,
        sealer: Sealer,
        dispatcher: MailDispatcher,
        clock: Clock,
        policy: PasswordlessPolicy,
        events: EventSink,
    ) -> None:
        self._requests = requests
        self._outbox = outbox
        self._limiter = limiter
        self._rules = rules
        self._hasher = hasher
        self._sealer = sealer
        self._dispatcher = dispatcher
        self._clock = clock
        self.policy = policy
        self._events = events

    # --- send --------------------------------------------------------------------------------------

    async def send(self, caller: Caller, cmd: SendCommand) -> SendResult:
        address = parse_email(cmd.email)
        lifetime = self._validate_send(caller, cmd)
        kind = self.policy.passwordless_type
        now = self._clock.now()
        hits = self._send_hits(caller, address.key)
        await self._acquire(hits, now, RateLimited)

        request_id = generate_request_id()
        credentials = self._new_credentials(kind)
        request = AuthRequest(
            id=request_id,
            client_id=caller.client.id,
            email=address.address,
            email_key=address.key,
            passwordless_type=kind,
            template=cmd.template,
            state=cmd.state,
            magiclink_auth_uri=cmd.magiclink_auth_uri if kind.has_link else None,
            template_variables=dict(cmd.template_variables or {}),
            lifetime=lifetime,
            created_at=now,
            expires_at=now + lifetime,
            credential_version=1,
            code_hash=None,
            link_hash=None,
            sealed_credentials=b"",
        )
        request = self._with_credentials(request, credentials)
        message = self._new_message(request, now)
        try:
            await self._requests.create(request, message)
        except BaseException:
            await self._limiter.release(hits, now)  # nothing was sent: give the quota back
            raise
        self._dispatcher.dispatch(message, self._email_content(request, credentials))
        self._events.emit(
            "passwordless.sent",
            auth_request_id=request_id,
            email=email_fingerprint(address.key),
            client_id=caller.client.id,
            ip=caller.ip,
        )
        return self._send_result(request, now)

    # --- resend ------------------------------------------------------------------------------------

    async def resend(self, caller: Caller, auth_request_id: str) -> SendResult:
        _check_request_id(auth_request_id, required=True)
        request = await self._owned_request(caller, auth_request_id)
        now = self._clock.now()
        self._ensure_open(request)
        if request.attempts >= self.policy.max_attempts_per_request:
            raise TooManyAttempts(retry_after=_seconds_until(request.expires_at, now))
        hits = self._send_hits(caller, request.email_key)
        await self._acquire(hits, now, RateLimited)
        try:
            reopened = None if self.policy.new_credentials_on_resend else self._reopen(request)
            if reopened is None or request.is_expired(now):
                credentials = self._new_credentials(request.passwordless_type)
                fresh = self._with_credentials(replace(request, expires_at=now + request.lifetime), credentials)
                message = self._new_message(fresh, now, version=request.credential_version + 1)
                stored = await self._requests.reissue(
                    request.id,
                    code_hash=fresh.code_hash,
                    link_hash=fresh.link_hash,
                    sealed_credentials=fresh.sealed_credentials,
                    expires_at=fresh.expires_at,
                    message=message,
                )
                if stored is None:
                    raise AlreadyUsed()
                request = stored
            else:
                # Same credential again; its lifetime is not extended.
                credentials = reopened
                message = self._new_message(request, now)
                await self._outbox.enqueue(message)
        except BaseException:
            await self._limiter.release(hits, now)
            raise
        self._dispatcher.dispatch(message, self._email_content(request, credentials))
        self._events.emit(
            "passwordless.resent",
            auth_request_id=request.id,
            email=email_fingerprint(request.email_key),
            client_id=caller.client.id,
            ip=caller.ip,
        )
        return self._send_result(request, now)

    # --- verify ------------------------------------------------------------------------------------

    async def verify(self, caller: Caller, cmd: VerifyCommand) -> VerifyResult:
        by_link = self._validate_verify(cmd)
        now = self._clock.now()
        await self._acquire(
            [self._rules.hit("verify:ip", caller.ip), self._rules.hit("verify:client", caller.client.id)],
            now,
            RateLimited,
        )
        try:
            request = await self._locate(caller, cmd, by_link)
            self._ensure_open(request)
            if request.is_expired(now):
                raise CredentialExpired()
            result = await self._attempt(caller, request, cmd, by_link, now)
        except KeylessError as error:
            self._events.emit(
                "passwordless.verify_failed",
                outcome=error.error_code,
                auth_request_id=cmd.auth_request_id,
                client_id=caller.client.id,
                ip=caller.ip,
            )
            raise
        self._events.emit(
            "passwordless.verified",
            outcome="SUCCESS",
            auth_request_id=result.auth_request_id,
            email=email_fingerprint(result.email_key),
            client_id=caller.client.id,
            ip=caller.ip,
        )
        return result

    async def _attempt(
        self, caller: Caller, request: AuthRequest, cmd: VerifyCommand, by_link: bool, now: float
    ) -> VerifyResult:
        # Attempts are counted before the comparison, on the request (durable, atomic) and on the
        # address (shared limiter); neither is reset by a resend or a new request.
        counted = await self._requests.register_attempt(request.id, self.policy.max_attempts_per_request)
        if counted is None:
            raise TooManyAttempts(retry_after=_seconds_until(request.expires_at, now))
        address_hit = [self._rules.hit("verify:address", request.email_key)]
        await self._acquire(address_hit, now, TooManyAttempts)

        if by_link:
            assert cmd.link_token is not None
            matched = request.passwordless_type.has_link and self._hasher.link_matches(
                cmd.link_token, counted.link_hash
            )
        else:
            assert cmd.code is not None
            matched = request.passwordless_type.has_code and self._hasher.code_matches(
                request.id, cmd.code, counted.code_hash
            )
        if not matched:
            raise InvalidCode()

        consumed = await self._requests.consume(request.id, counted.credential_version, now)
        if consumed is None:
            raise AlreadyUsed()
        # A success is not a failure: give back the address attempt this verification took.
        await self._limiter.release(address_hit, now)
        return VerifyResult(
            auth_request_id=consumed.id,
            email=consumed.email,
            email_key=consumed.email_key,
            state=consumed.state,
            template=consumed.template,
            passwordless_type=consumed.passwordless_type,
        )

    async def _locate(self, caller: Caller, cmd: VerifyCommand, by_link: bool) -> AuthRequest:
        if cmd.auth_request_id:
            return await self._owned_request(caller, cmd.auth_request_id)
        assert by_link and cmd.link_token is not None
        found = await self._requests.find_by_link_hash(self._hasher.link_lookup_hashes(cmd.link_token))
        if found is None or found.client_id != caller.client.id:
            raise InvalidCode()
        return found

    def _reopen(self, request: AuthRequest) -> Credentials | None:
        """The sealed credential, or None when its encryption key is no longer configured."""
        try:
            return self._sealer.open_credentials(request.id, request.sealed_credentials)
        except ValueError:
            return None

    async def find_link_request(self, link_token: str) -> AuthRequest | None:
        """The request a link token belongs to, without using or counting anything. Link tokens
        carry 256 bits, so looking one up reveals nothing a guess could find."""
        if not 1 <= len(link_token) <= 100:
            return None
        return await self._requests.find_by_link_hash(self._hasher.link_lookup_hashes(link_token))

    # --- helpers -----------------------------------------------------------------------------------

    def _validate_send(self, caller: Caller, cmd: SendCommand) -> int:
        p = self.policy
        violations: list[FieldViolation] = []
        lifetime = p.default_expires_in if cmd.expires_in is None else cmd.expires_in
        if not p.min_expires_in <= lifetime <= p.max_expires_in:
            violations.append(
                FieldViolation(
                    "expires_in",
                    f"must be between {p.min_expires_in} and {p.max_expires_in} seconds",
                    "uint32.range",
                )
            )
        if cmd.state is not None and not 1 <= len(cmd.state) <= p.max_state_length:
            violations.append(FieldViolation("state", f"must be 1 to {p.max_state_length} characters", "string.len"))
        elif cmd.state is not None and _has_nul(cmd.state):
            violations.append(FieldViolation("state", "must not contain NUL characters", "string.no_nul"))
        violations.extend(self._template_variable_violations(cmd.template_variables or {}))
        if p.passwordless_type.has_link:
            uri = cmd.magiclink_auth_uri
            if not uri:
                violations.append(
                    FieldViolation(
                        "magiclink_auth_uri",
                        f"is required when the passwordless type is {p.passwordless_type.value}",
                        "required",
                    )
                )
            elif len(uri) > 1000:
                violations.append(
                    FieldViolation("magiclink_auth_uri", "must be at most 1000 characters", "string.max_len")
                )
            elif not uri.startswith(("https://", "http://")) or uri not in caller.client.magiclink_uris:
                raise MagicLinkUriNotAllowed(
                    violations=(
                        FieldViolation(
                            "magiclink_auth_uri",
                            "must exactly match a magic-link URI registered for this client",
                            "registered_uri",
                        ),
                    )
                )
        if violations:
            raise InvalidRequest(violations=tuple(violations))
        return lifetime

    def _template_variable_violations(self, variables: dict[str, str]) -> list[FieldViolation]:
        p = self.policy
        out: list[FieldViolation] = []
        if len(variables) > p.max_template_variables:
            out.append(
                FieldViolation("template_variables", f"at most {p.max_template_variables} pairs", "map.max_pairs")
            )
        low, high = p.template_variable_key_length
        for key, value in variables.items():
            name = f"template_variables.{key[:40]}"
            if key in p.reserved_template_variables:
                out.append(FieldViolation(name, "is a reserved variable name", "map.keys.reserved"))
            elif not low <= len(key) <= high:
                out.append(FieldViolation(name, f"key must be {low} to {high} characters", "map.keys.len"))
            if _has_nul(key) or _has_nul(value):
                out.append(FieldViolation(name, "must not contain NUL characters", "string.no_nul"))
            if len(value) > p.max_template_variable_value:
                out.append(
                    FieldViolation(
                        name,
                        f"value must be at most {p.max_template_variable_value} characters",
                        "map.values.max_len",
                    )
                )
        return out

    def _validate_verify(self, cmd: VerifyCommand) -> bool:
        violations: list[FieldViolation] = []
        if cmd.code is not None and cmd.link_token is not None:
            violations.append(FieldViolation("code", "send either code or link_token, not both", "oneof"))
        elif cmd.code is None and cmd.link_token is None:
            violations.append(FieldViolation("code", "code or link_token is required", "oneof.required"))
        elif cmd.code is not None and not 1 <= len(cmd.code) <= 20:
            violations.append(FieldViolation("code", "must be 1 to 20 characters", "string.len"))
        elif cmd.link_token is not None and not 1 <= len(cmd.link_token) <= 100:
            violations.append(FieldViolation("link_token", "must be 1 to 100 characters", "string.len"))
        by_link = cmd.link_token is not None
        if cmd.auth_request_id is not None:
            violations.extend(_request_id_violations(cmd.auth_request_id))
        elif not by_link:
            violations.append(FieldViolation("auth_request_id", "is required with code", "required"))
        elif self.policy.enforce_same_browser_origin:
            violations.append(
                FieldViolation(
                    "auth_request_id",
                    "is required with link_token when same-browser enforcement is on",
                    "required",
                )
            )
        if violations:
            raise InvalidRequest(violations=tuple(violations))
        return by_link

    async def _owned_request(self, caller: Caller, request_id: str) -> AuthRequest:
        request = await self._requests.get(request_id)
        # Another client's request is indistinguishable from an unknown one.
        if request is None or request.client_id != caller.client.id:
            raise AuthRequestNotFound()
        return request

    def _ensure_open(self, request: AuthRequest) -> None:
        if request.consumed_at is not None:
            raise AlreadyUsed()
        if request.closed_at is not None:
            raise CredentialExpired(message="This sign-in request was closed: another one for this address succeeded.")

    def _send_hits(self, caller: Caller, email_key: str) -> list[LimitHit]:
        return [
            self._rules.hit("send:address:minute", email_key),
            self._rules.hit("send:address:day", email_key),
            self._rules.hit("send:ip", caller.ip),
            self._rules.hit("send:client", caller.client.id),
        ]

    async def _acquire(self, hits: list[LimitHit], now: float, error: type[KeylessError]) -> None:
        decision = await self._limiter.acquire(hits, now)
        if not decision.allowed:
            self._events.emit("ratelimit.denied", rule=decision.rule)
            raise error(retry_after=max(1, decision.retry_after))

    def _new_credentials(self, kind: PasswordlessType) -> Credentials:
        return Credentials(
            code=generate_otp() if kind.has_code else None,
            link_token=generate_link_token() if kind.has_link else None,
        )

    def _with_credentials(self, request: AuthRequest, credentials: Credentials) -> AuthRequest:
        return replace(
            request,
            code_hash=self._hasher.hash_code(request.id, credentials.code) if credentials.code else None,
            link_hash=self._hasher.hash_link(credentials.link_token) if credentials.link_token else None,
            sealed_credentials=self._sealer.seal_credentials(request.id, credentials),
        )

    def _new_message(self, request: AuthRequest, now: float, version: int | None = None) -> OutboxMessage:
        # Leased to this process from the start: it is handed to a worker in memory right away,
        # and another worker takes it over only if that lease lapses.
        return OutboxMessage(
            id=generate_prefixed_id("msg"),
            auth_request_id=request.id,
            credential_version=version or request.credential_version,
            recipient=request.email,
            status=OutboxStatus.SENDING,
            attempts=0,
            next_attempt_at=now,
            lease_until=now + self.policy.outbox_lease_seconds,
            expires_at=request.expires_at,
            created_at=now,
        )

    def _email_content(self, request: AuthRequest, credentials: Credentials) -> EmailContent:
        return email_content_for(request, credentials)

    def _send_result(self, request: AuthRequest, now: float) -> SendResult:
        return SendResult(
            auth_request_id=request.id,
            expires_at=int(request.expires_at),
            expires_in=max(0, round(request.expires_at - now)),
            passwordless_type=request.passwordless_type,
        )


def email_content_for(request: AuthRequest, credentials: Credentials) -> EmailContent:
    link = None
    if credentials.link_token and request.magiclink_auth_uri:
        link = build_magic_link(request.magiclink_auth_uri, credentials.link_token)
    return EmailContent(
        recipient=request.email,
        template=request.template or TemplateType.SIGNIN,
        passwordless_type=request.passwordless_type,
        code=credentials.code,
        link=link,
        expires_at=request.expires_at,
        lifetime_seconds=request.lifetime,
        variables=dict(request.template_variables),
    )


def _seconds_until(moment: float, now: float) -> int:
    return max(1, int(moment - now + 0.999))


_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")


def _request_id_violations(value: str) -> list[FieldViolation]:
    if not 1 <= len(value) <= 200:
        return [FieldViolation("auth_request_id", "must be 1 to 200 characters", "string.len")]
    if not _REQUEST_ID.fullmatch(value):
        return [FieldViolation("auth_request_id", "is not a valid auth request id", "string.pattern")]
    return []


def _has_nul(value: str) -> bool:
    return "\x00" in value


def _check_request_id(value: str, *, required: bool) -> None:
    violations = (
        _request_id_violations(value)
        if value or not required
        else [FieldViolation("auth_request_id", "is required", "required")]
    )
    if violations:
        raise InvalidRequest(violations=tuple(violations))
