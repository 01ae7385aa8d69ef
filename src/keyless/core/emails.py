"""Email address validation and the identity key.

Addresses are validated with email-validator (addr-spec only: no display names, comments or CR/LF).
The address mail goes to is the validated, normalised form (NFC local part, lower-cased domain).

The identity key, used for limits and accounts, is ``local@domain`` where the local part has only its
ASCII letters lower-cased and the domain is its lower-case IDNA (ASCII) form. Unicode case folding is
deliberately not applied: folding would map distinct addresses such as ``\u0131@`` (dotless i) and ``i@``
onto one key. Canonically equivalent spellings (NFC, e.g. the Kelvin sign and ``K``) share a key,
and they also share the address the mail is sent to, so a look-alike can only ever mail the owner.
"""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from keyless.errors import FieldViolation, InvalidEmail

MAX_EMAIL_LENGTH = 254
_ASCII_UPPER = {chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)}


@dataclass(frozen=True, slots=True)
class EmailAddress:
    address: str  # where mail goes
    key: str  # identity key


def parse_email(raw: str, field: str = "email") -> EmailAddress:
    """Validate and normalise. Surrounding spaces are trimmed (documented); anything else odd is refused."""
    candidate = raw.strip(" ")
    if not candidate or len(candidate) > MAX_EMAIL_LENGTH or any(ord(ch) < 32 or ch == "\x7f" for ch in candidate):
        raise _invalid(field)
    try:
        result = validate_email(candidate, check_deliverability=False, allow_display_name=False)
    except EmailNotValidError:
        raise _invalid(field) from None
    local, domain = result.local_part, (result.ascii_domain or result.domain).lower()
    key_local = "".join(_ASCII_UPPER.get(ch, ch) for ch in local)
    return EmailAddress(address=result.normalized, key=f"{key_local}@{domain}")


def _invalid(field: str) -> InvalidEmail:
    return InvalidEmail(violations=(FieldViolation(field, "must be a valid email address", "string.email"),))
