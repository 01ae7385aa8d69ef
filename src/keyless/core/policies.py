"""Policy values the core obeys, and the registry of rate-limit rules.

Built from settings by the composition root; the core never reads settings itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from keyless.core.models import PasswordlessType
from keyless.core.ports import LimitHit, LimitRule


@dataclass(frozen=True, slots=True)
class PasswordlessPolicy:
    passwordless_type: PasswordlessType = PasswordlessType.OTP
    new_credentials_on_resend: bool = False
    enforce_same_browser_origin: bool = False
    default_expires_in: int = 300
    min_expires_in: int = 60
    max_expires_in: int = 3600
    max_attempts_per_request: int = 5
    max_state_length: int = 1000
    max_template_variables: int = 30
    template_variable_key_length: tuple[int, int] = (2, 25)
    max_template_variable_value: int = 256
    reserved_template_variables: frozenset[str] = frozenset(
        {"otp", "link", "expiry_time", "expire_time", "expiry_time_relative"}
    )
    outbox_lease_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class RateRules:
    """Every limit keyless enforces, by name. Each flow asks for hits by rule name and key."""

    rules: dict[str, LimitRule] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        send_per_address_per_minute: int = 2,
        send_per_address_per_day: int = 30,
        send_per_ip_per_minute: int = 120,
        send_per_client_per_minute: int = 1200,
        verify_failures_per_address: int = 5,
        verify_failure_window: float = 600.0,
        verify_per_ip_per_minute: int = 600,
        verify_per_client_per_minute: int = 2400,
        token_per_ip_per_minute: int = 60,
    ) -> RateRules:
        entries = [
            LimitRule("send:address:minute", send_per_address_per_minute, 60.0),
            LimitRule("send:address:day", send_per_address_per_day, 86_400.0),
            LimitRule("send:ip", send_per_ip_per_minute, 60.0),
            LimitRule("send:client", send_per_client_per_minute, 60.0),
            LimitRule("verify:address", verify_failures_per_address, verify_failure_window),
            LimitRule("verify:ip", verify_per_ip_per_minute, 60.0),
            LimitRule("verify:client", verify_per_client_per_minute, 60.0),
            LimitRule("token:ip", token_per_ip_per_minute, 60.0),
        ]
        return cls({rule.name: rule for rule in entries})

    def hit(self, name: str, key: str) -> LimitHit:
        return LimitHit(self.rules[name], key)
