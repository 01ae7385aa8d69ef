"""Typed settings, validated at start-up.

Sources, highest first: keyword arguments, ``KEYLESS_*`` environment variables, the TOML file named by
``KEYLESS_CONFIG_FILE`` (or ``keyless.toml`` in the working directory, when present), defaults.
Lists are given as JSON in the environment (``KEYLESS_TRUSTED_PROXIES='["10.0.0.1"]'``).

``docs/reference/configuration.md`` documents every field; keep the two in step.
"""

from __future__ import annotations

import ipaddress
import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from keyless.core.models import PasswordlessType


class Mode(StrEnum):
    DEV = "dev"
    PRODUCTION = "production"


class MailBackend(StrEnum):
    DEV_MAILBOX = "devmailbox"
    SMTP = "smtp"


class SmtpSecurity(StrEnum):
    NONE = "none"  # plaintext; refused in production
    STARTTLS = "starttls"  # STARTTLS required, certificate verified
    TLS = "tls"  # implicit TLS (usually port 465)


def _config_file() -> Path | None:
    named = os.environ.get("KEYLESS_CONFIG_FILE")
    if named:
        return Path(named)
    default = Path("keyless.toml")
    return default if default.is_file() else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEYLESS_", extra="forbid", validate_default=True)

    # --- deployment ---
    mode: Mode = Field(Mode.DEV, description="dev, or production (refuses generated secrets and the dev mailbox)")
    public_url: str = Field(
        "http://localhost:8080",
        description="The external origin: token issuer and base of every link; never taken from requests.",
    )
    host: str = Field("127.0.0.1", description="Interface keyless serve binds to")
    port: int = Field(8080, ge=1, le=65535, description="Port keyless serve listens on")
    data_dir: Path = Field(Path("keyless-data"), description="Where the SQLite file and dev secrets live")
    database_url: str = Field("", description="sqlite:///path.db (default: <data_dir>/keyless.db) or postgresql://…")
    database_schema: str | None = Field(None, description="PostgreSQL schema to use (created if missing)")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Peers (IPs or CIDRs) whose X-Forwarded-For is believed for the client IP",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = Field(True, description="Log one line per HTTP request (paths only, never query strings)")
    keepalive_seconds: int = Field(
        75,
        ge=1,
        le=3600,
        description="Idle seconds before an HTTP/1.1 keep-alive connection is closed; longer than the proxy's",
    )
    tls_certfile: Path | None = Field(
        None, description="PEM certificate (chain) to serve HTTPS and gRPC over TLS on the same port"
    )
    tls_keyfile: Path | None = Field(None, description="PEM private key of tls_certfile")
    dev_tls: bool = Field(
        False,
        description="Dev mode: serve TLS with a local CA and localhost certificate created in <data_dir>/tls",
    )

    # --- secrets (generated and kept in <data_dir>/dev-secrets.json in dev mode) ---
    credential_hmac_keys: list[SecretStr] = Field(
        default_factory=list,
        description="HMAC keys for codes and link tokens, newest first; each ≥32 bytes (base64url or hex)",
    )
    encryption_keys: list[SecretStr] = Field(
        default_factory=list,
        description="AES-256-GCM keys (32 bytes, base64url or hex), newest first",
    )

    # --- passwordless behaviour ---
    passwordless_type: PasswordlessType = Field(PasswordlessType.OTP, description="OTP, LINK or LINK_OTP")
    new_credentials_on_resend: bool = Field(False, description="A resend issues a new code/link and kills the old one")
    enforce_same_browser_origin: bool = Field(
        False,
        description="Link verification must name the auth_request_id (API) or come from the same browser",
    )
    default_expires_in: int = Field(300, ge=60, le=3600)
    max_expires_in: int = Field(3600, ge=60, le=3600, description="Upper bound accepted for expires_in")
    max_attempts_per_request: int = Field(5, ge=1, le=100)

    # --- limits ---
    send_per_address_per_minute: int = Field(2, ge=1)
    send_per_address_per_day: int = Field(30, ge=1)
    # Per-IP ceilings see end users on the hosted pages, but an application's backend on the headless
    # API, so they are set for a whole application's traffic; per-address budgets do the fine work.
    send_per_ip_per_minute: int = Field(120, ge=1)
    send_per_client_per_minute: int = Field(1200, ge=1)
    verify_failures_per_address: int = Field(5, ge=1)
    verify_failure_window_seconds: int = Field(600, ge=1)
    verify_per_ip_per_minute: int = Field(600, ge=1)
    verify_per_client_per_minute: int = Field(2400, ge=1)
    token_per_ip_per_minute: int = Field(60, ge=1)

    # --- scale-out: shared rate limits, key refresh, housekeeping ---
    redis_url: str | None = Field(
        None,
        description="redis://… shared by every process for rate limits; unset: in-memory limits (one process)",
    )
    redis_key_prefix: str = Field("keyless:", description="Prefix of every Redis key keyless writes")
    redis_timeout_seconds: float = Field(
        0.5, gt=0, le=10, description="Connect/read timeout for Redis; past it, limited calls answer 503"
    )
    key_refresh_seconds: float = Field(
        30.0, ge=1, le=3600, description="How often each process reloads signing keys from the database"
    )
    purge_interval_seconds: float = Field(
        60.0, ge=0, description="Seconds between background purges of expired rows; 0 turns purging off"
    )
    purge_batch_size: int = Field(500, ge=1, le=10_000, description="Rows deleted per statement by the purge")
    purge_retention_seconds: int = Field(
        86_400, ge=60, description="How long expired or finished rows are kept before the purge deletes them"
    )

    # --- tokens and sessions ---
    access_token_ttl: int = Field(899, ge=60, le=86_400, description="Seconds an access token lives")
    id_token_ttl: int = Field(3600, ge=60, le=86_400, description="Seconds an ID token lives")
    refresh_token_ttl: int = Field(30 * 86_400, ge=300, description="Seconds a refresh-token family lives")
    session_ttl: int = Field(7 * 86_400, ge=300, description="Seconds a browser session at keyless lives")
    resend_cooldown_seconds: int = Field(30, ge=0, le=600, description="Hosted pages: wait before a resend")

    # --- first start ---
    bootstrap_client_name: str = "Default application"
    bootstrap_redirect_uris: list[str] = Field(default_factory=lambda: ["http://localhost:3000/auth/callback"])
    bootstrap_magiclink_uris: list[str] = Field(default_factory=lambda: ["http://localhost:3000/passwordless/verify"])

    # --- mail ---
    mail_backend: MailBackend = MailBackend.DEV_MAILBOX
    mail_from: str = Field("keyless@localhost", description="From address of every email")
    mail_from_name: str = Field("", description="Display name for From (default: app_name)")
    mail_templates_dir: Path | None = Field(None, description="Directory whose templates override the built-in ones")
    smtp_host: str = "localhost"
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_security: SmtpSecurity = SmtpSecurity.STARTTLS
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(10.0, gt=0, le=120)
    smtp_ca_file: Path | None = Field(None, description="CA bundle to verify the SMTP server (default: system)")
    mail_retry_max_seconds: float = Field(60.0, ge=1, description="Cap of the delivery back-off")

    # --- branding ---
    app_name: str = "keyless"
    app_logo_url: str | None = None
    primary_color: str = "#4f46e5"
    support_email: str | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^/?#\s]+", value.rstrip("/")):
            raise ValueError("public_url must be an origin such as https://auth.example.com (no path)")
        return value.rstrip("/")

    @field_validator("database_schema")
    @classmethod
    def _schema(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", value):
            raise ValueError("database_schema must be a lower-case identifier")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"(rediss?|unix)://", value):
            raise ValueError("redis_url must start with redis://, rediss:// or unix://")
        return value or None

    @field_validator("redis_key_prefix")
    @classmethod
    def _redis_prefix(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", value):
            raise ValueError("redis_key_prefix must be 1-64 characters of letters, digits and _.:-")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value

    @field_validator("primary_color")
    @classmethod
    def _color(cls, value: str) -> str:
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
            raise ValueError("primary_color must look like #4f46e5")
        return value

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        if self.default_expires_in > self.max_expires_in:
            raise ValueError("default_expires_in cannot exceed max_expires_in")
        if self.purge_retention_seconds < self.access_token_ttl:
            # A replayed authorization code must still find its row to revoke the tokens it issued.
            raise ValueError("purge_retention_seconds must be at least access_token_ttl")
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("tls_certfile and tls_keyfile go together")
        if self.dev_tls and self.tls_certfile is not None:
            raise ValueError("dev_tls creates its own certificate; leave tls_certfile and tls_keyfile unset")
        if self.mode is Mode.PRODUCTION:
            problems = []
            if not self.credential_hmac_keys:
                problems.append("credential_hmac_keys must be set")
            if not self.encryption_keys:
                problems.append("encryption_keys must be set")
            if self.mail_backend is MailBackend.DEV_MAILBOX:
                problems.append("mail_backend devmailbox is for development only; configure smtp")
            if self.mail_backend is MailBackend.SMTP and self.smtp_security is SmtpSecurity.NONE:
                problems.append("smtp_security none sends mail in plaintext; use starttls or tls")
            if not self.public_url.startswith("https://"):
                problems.append("public_url must be https")
            if self.dev_tls:
                problems.append("dev_tls is for development only; give tls_certfile and tls_keyfile")
            if problems:
                raise ValueError("unsafe production settings: " + "; ".join(problems))
        return self

    @classmethod
    def check_environment(cls, environ: dict[str, str] | None = None) -> None:
        """Refuse misspelled ``KEYLESS_*`` variables and a config file that does not exist."""
        env = dict(os.environ if environ is None else environ)
        known = {f"KEYLESS_{name.upper()}" for name in cls.model_fields} | {"KEYLESS_CONFIG_FILE"}
        unknown = sorted(
            k
            for k in env
            if k.upper().startswith("KEYLESS_") and k.upper() not in known and not k.upper().startswith("KEYLESS_TEST_")
        )
        if unknown:
            raise ValueError(f"unknown setting(s) in the environment: {', '.join(unknown)}")
        named = env.get("KEYLESS_CONFIG_FILE")
        if named and not Path(named).is_file():
            raise ValueError(f"KEYLESS_CONFIG_FILE names {named}, which does not exist")

    # --- derived ---
    @property
    def is_dev(self) -> bool:
        return self.mode is Mode.DEV

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'keyless.db'}"

    def masked(self) -> dict[str, Any]:
        """The effective settings with every secret masked, safe to print or log."""
        out = self.model_dump(mode="json")
        for name in ("credential_hmac_keys", "encryption_keys"):
            out[name] = [f"***({len(v.get_secret_value())} chars)" for v in getattr(self, name)]
        if self.smtp_password is not None:
            out["smtp_password"] = "***"  # noqa: S105 - the mask, not a password
        out["database_url"] = re.sub(r"//([^:@/]+):[^@/]*@", r"//\1:***@", self.effective_database_url)
        if self.redis_url:
            out["redis_url"] = re.sub(r"//([^:@/]*):[^@/]*@", r"//\1:***@", self.redis_url)
        return out
