"""The composition root: the one place that turns settings into wired objects."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from keyless.background import Periodic
from keyless.bootstrap import FirstClient, announce_first_client, write_first_client
from keyless.clock import Clock, SystemClock
from keyless.core.credentials import CredentialHasher, Sealer
from keyless.core.flows.passwordless import PasswordlessFlows
from keyless.core.policies import PasswordlessPolicy, RateRules
from keyless.core.ports import Mailer, RateLimiter
from keyless.keymaterial import load_key_material
from keyless.logs import LoggingEvents
from keyless.mail.devmailbox import DevMailboxMailer
from keyless.mail.outbox import OutboxWorker
from keyless.mail.render import TemplateRenderer, build_renderer
from keyless.mail.smtp import build_smtp_mailer
from keyless.oidc.clients import ClientRegistry
from keyless.oidc.grants.authorization_code import AuthorizationCodeGrant
from keyless.oidc.grants.client_credentials import ClientCredentialsGrant
from keyless.oidc.grants.refresh_token import RefreshTokenGrant
from keyless.oidc.grants.registry import GrantRegistry
from keyless.oidc.issuer import OidcIssuer
from keyless.oidc.keys import Keyring
from keyless.oidc.signin import HostedSignin
from keyless.oidc.tokens import TokenService
from keyless.ratelimit.memory import InMemoryRateLimiter
from keyless.ratelimit.redis import RedisRateLimiter
from keyless.settings import MailBackend, Settings
from keyless.storage.database import Database
from keyless.storage.oidc_stores import SqlGrantStore, SqlLoginStore, SqlSessionStore, SqlUserStore
from keyless.storage.postgres import PostgresDatabase
from keyless.storage.purge import SqlPurger
from keyless.storage.sqlite import SqliteDatabase
from keyless.storage.stores import (
    SqlAuthRequestStore,
    SqlClientStore,
    SqlDevMailboxStore,
    SqlOutboxStore,
    SqlSigningKeyStore,
)
from keyless.storage.url import parse_database_url
from keyless.web.auth import ApiAuthenticator, CachedClients
from keyless.web.browser import BrowserCookies
from keyless.web.clientip import ClientIpResolver

log = logging.getLogger("keyless")


def build_database(settings: Settings) -> Database:
    url = parse_database_url(settings.effective_database_url)
    if url.dialect == "sqlite":
        return SqliteDatabase(url.path)
    return PostgresDatabase(url.dsn, schema=settings.database_schema)


def build_limiter(settings: Settings) -> RateLimiter:
    """Redis when configured (limits shared by every process), else exact in-memory limits."""
    if settings.redis_url:
        return RedisRateLimiter.from_url(
            settings.redis_url, prefix=settings.redis_key_prefix, timeout=settings.redis_timeout_seconds
        )
    return InMemoryRateLimiter()


def build_background(settings: Settings, clock: Clock, db: Database, keyring: Keyring) -> list[Periodic]:
    """Jobs every process runs: purging expired rows, and picking up keys other processes added."""
    purger = SqlPurger(db, batch_size=settings.purge_batch_size)
    retention = settings.purge_retention_seconds
    return [
        Periodic("purge", settings.purge_interval_seconds, lambda: purger.purge(clock.now() - retention)),
        Periodic("signing-keys", settings.key_refresh_seconds, keyring.reload),
    ]


def mail_send_timeout(settings: Settings) -> float:
    """A whole SMTP send: connect, STARTTLS, login, data; aiosmtplib's timeout applies per step."""
    return 3 * settings.smtp_timeout_seconds


def build_policy(settings: Settings) -> PasswordlessPolicy:
    return PasswordlessPolicy(
        # The lease must outlast a whole send, so no other worker takes a message mid-delivery.
        outbox_lease_seconds=2 * mail_send_timeout(settings) + 10,
        passwordless_type=settings.passwordless_type,
        new_credentials_on_resend=settings.new_credentials_on_resend,
        enforce_same_browser_origin=settings.enforce_same_browser_origin,
        default_expires_in=settings.default_expires_in,
        max_expires_in=settings.max_expires_in,
        max_attempts_per_request=settings.max_attempts_per_request,
    )


def build_rules(settings: Settings) -> RateRules:
    return RateRules.build(
        send_per_address_per_minute=settings.send_per_address_per_minute,
        send_per_address_per_day=settings.send_per_address_per_day,
        send_per_ip_per_minute=settings.send_per_ip_per_minute,
        send_per_client_per_minute=settings.send_per_client_per_minute,
        verify_failures_per_address=settings.verify_failures_per_address,
        verify_failure_window=float(settings.verify_failure_window_seconds),
        verify_per_ip_per_minute=settings.verify_per_ip_per_minute,
        verify_per_client_per_minute=settings.verify_per_client_per_minute,
        token_per_ip_per_minute=settings.token_per_ip_per_minute,
    )


@dataclass
class Container:
    settings: Settings
    clock: Clock
    db: Database
    requests: SqlAuthRequestStore
    outbox: SqlOutboxStore
    clients: SqlClientStore
    cached_clients: CachedClients
    signing_keys: SqlSigningKeyStore
    dev_mailbox: SqlDevMailboxStore
    limiter: RateLimiter
    rules: RateRules
    hasher: CredentialHasher
    sealer: Sealer
    keyring: Keyring
    tokens: TokenService
    grants: GrantRegistry
    registry: ClientRegistry
    renderer: TemplateRenderer
    mailer: Mailer
    worker: OutboxWorker
    flows: PasswordlessFlows
    ips: ClientIpResolver
    api_auth: ApiAuthenticator
    users: SqlUserStore
    sessions: SqlSessionStore
    logins: SqlLoginStore
    oauth_grants: SqlGrantStore
    issuer: OidcIssuer
    signin: HostedSignin
    cookies: BrowserCookies
    background: list[Periodic] = field(default_factory=list)
    started: bool = False

    async def start(self) -> None:
        if self.started:
            return
        self.renderer.check()
        await self.keyring.ensure_key(self.clock.now())
        await self._bootstrap_first_client()
        await self.worker.start()
        for job in self.background:
            job.start()
        if self.db.dialect == "postgresql" and not isinstance(self.limiter, RedisRateLimiter):
            log.warning("rate limits are kept in this process only: set redis_url when running several processes")
        self.started = True

    def readiness_probes(self) -> list[Callable[[], Awaitable[None]]]:
        """What must answer for this process to serve: the database, and Redis when limits live there."""
        probes: list[Callable[[], Awaitable[None]]] = [self.db.ping]
        if isinstance(self.limiter, RedisRateLimiter):
            probes.append(self.limiter.ping)
        return probes

    async def _bootstrap_first_client(self) -> None:
        if await self.clients.count() > 0:
            return
        if not self.settings.is_dev:
            log.warning("no API client exists yet: create one with `keyless clients create`")
            return
        client, secret = await self.registry.register(
            self.settings.bootstrap_client_name,
            redirect_uris=list(self.settings.bootstrap_redirect_uris),
            magiclink_uris=list(self.settings.bootstrap_magiclink_uris),
        )
        first = FirstClient(client.id, secret, client.magiclink_uris, client.redirect_uris)
        announce_first_client(self.settings, first, write_first_client(self.settings, first))

    async def stop(self) -> None:
        if self.started:
            for job in self.background:
                await job.stop()
            await self.worker.stop()
            self.started = False
        if isinstance(self.limiter, RedisRateLimiter):
            await self.limiter.close()
        await self.db.close()


def build_container(
    settings: Settings,
    *,
    clock: Clock | None = None,
    limiter: RateLimiter | None = None,
    mailer: Mailer | None = None,
) -> Container:
    clock = clock or SystemClock()
    keys = load_key_material(settings)
    db = build_database(settings)
    requests, outbox = SqlAuthRequestStore(db), SqlOutboxStore(db)
    clients, signing_keys, dev_mailbox = SqlClientStore(db), SqlSigningKeyStore(db), SqlDevMailboxStore(db)
    hasher, sealer = CredentialHasher(keys.hmac_keys), Sealer(keys.encryption_keys)
    limiter = limiter or build_limiter(settings)
    rules = build_rules(settings)
    keyring = Keyring(signing_keys, sealer)
    tokens = TokenService(keyring, issuer=settings.public_url, access_token_ttl=settings.access_token_ttl)
    users, sessions, logins, oauth_grants = (
        SqlUserStore(db),
        SqlSessionStore(db),
        SqlLoginStore(db),
        SqlGrantStore(db),
    )
    issuer = OidcIssuer(
        grants=oauth_grants,
        tokens=tokens,
        keyring=keyring,
        clock=clock,
        refresh_token_ttl=settings.refresh_token_ttl,
        id_token_ttl=settings.id_token_ttl,
    )
    grants = GrantRegistry(
        [
            ClientCredentialsGrant(tokens, clock),
            AuthorizationCodeGrant(grants=oauth_grants, users=users, sessions=sessions, issuer=issuer, clock=clock),
            RefreshTokenGrant(grants=oauth_grants, users=users, sessions=sessions, issuer=issuer, clock=clock),
        ]
    )
    renderer = build_renderer(settings, clock)
    if mailer is None:
        mailer = (
            DevMailboxMailer(dev_mailbox, clock)
            if settings.mail_backend is MailBackend.DEV_MAILBOX
            else build_smtp_mailer(settings, clock)
        )
    policy = build_policy(settings)
    worker = OutboxWorker(
        outbox=outbox,
        requests=requests,
        sealer=sealer,
        renderer=renderer,
        mailer=mailer,
        clock=clock,
        lease_seconds=policy.outbox_lease_seconds,
        send_timeout=mail_send_timeout(settings),
        retry_max_seconds=settings.mail_retry_max_seconds,
    )
    flows = PasswordlessFlows(
        requests=requests,
        outbox=outbox,
        limiter=limiter,
        rules=rules,
        hasher=hasher,
        sealer=sealer,
        dispatcher=worker,
        clock=clock,
        policy=policy,
        events=LoggingEvents(),
    )
    ips = ClientIpResolver(settings.trusted_proxies)
    cached_clients = CachedClients(clients)
    signin = HostedSignin(
        flows=flows,
        logins=logins,
        users=users,
        sessions=sessions,
        clients=cached_clients,
        issuer=issuer,
        clock=clock,
        link_uri=f"{settings.public_url}/signin/link",
        session_ttl=settings.session_ttl,
    )
    csrf_key = hmac.new(keys.hmac_keys[0], b"keyless hosted-pages csrf", hashlib.sha256).digest()
    return Container(
        settings=settings,
        clock=clock,
        db=db,
        requests=requests,
        outbox=outbox,
        clients=clients,
        cached_clients=cached_clients,
        signing_keys=signing_keys,
        dev_mailbox=dev_mailbox,
        limiter=limiter,
        rules=rules,
        hasher=hasher,
        sealer=sealer,
        keyring=keyring,
        tokens=tokens,
        grants=grants,
        registry=ClientRegistry(clients, clock, allow_http_uris=settings.is_dev),
        renderer=renderer,
        mailer=mailer,
        worker=worker,
        flows=flows,
        ips=ips,
        api_auth=ApiAuthenticator(tokens, cached_clients, ips, clock),
        users=users,
        sessions=sessions,
        logins=logins,
        oauth_grants=oauth_grants,
        issuer=issuer,
        signin=signin,
        cookies=BrowserCookies(settings.public_url, csrf_key, settings.session_ttl),
        background=build_background(settings, clock, db, keyring),
    )
