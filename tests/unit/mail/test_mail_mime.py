"""build_mime: headers through the email package's API only (R-20)."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from keyless.clock import ManualClock
from keyless.core.models import EmailContent, PasswordlessType, RenderedEmail, TemplateType
from keyless.mail.message import build_mime, clean_header_text
from keyless.mail.render import TemplateRenderer


def rendered(app_name: str = "Acme") -> RenderedEmail:
    r = TemplateRenderer(app_name="Acme", clock=ManualClock())
    return r.render(
        EmailContent(
            recipient="alice@example.com",
            template=TemplateType.SIGNIN,
            passwordless_type=PasswordlessType.OTP,
            code="428193",
            link=None,
            expires_at=1_700_000_300.0,
            lifetime_seconds=300,
            variables={"app_name": app_name},
        )
    )


def header_lines(raw: bytes) -> list[bytes]:
    head = raw.split(b"\r\n\r\n", 1)[0]
    return head.split(b"\r\n")


def test_multipart_alternative_with_text_and_html() -> None:
    msg = build_mime(rendered(), sender="noreply@acme.example", sender_name="Acme", now=1_700_000_000.0)
    parsed = message_from_bytes(bytes(msg), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["To"] == "alice@example.com"
    assert parsed["From"] == "Acme <noreply@acme.example>"
    assert parsed["Subject"] == "Your Acme sign-in code"
    assert parsed["Date"] == "Tue, 14 Nov 2023 22:13:20 +0000"
    assert parsed["Message-ID"].endswith("@acme.example>")
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert text is not None and html is not None
    assert "428193" in text.get_content()
    assert "428193" in html.get_content()


def test_header_injection_through_app_name_is_one_subject_line_and_no_bcc() -> None:
    email = rendered(app_name="Acme\r\nBcc: x@evil.example")
    msg = build_mime(email, sender="noreply@acme.example", sender_name="Acme\r\nBcc: y@evil.example")
    raw = bytes(msg)
    lines = header_lines(raw)
    assert sum(1 for line in lines if line.lower().startswith(b"subject:")) == 1
    assert not any(line.lower().startswith(b"bcc:") for line in lines)
    assert sum(1 for line in lines if line.lower().startswith(b"from:")) == 1
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Bcc"] is None
    assert [str(a) for a in parsed["To"].addresses] == ["alice@example.com"]


def test_subject_injection_even_when_rendered_email_was_built_elsewhere() -> None:
    email = RenderedEmail("alice@example.com", "Hello\nBcc: x@evil.example", "text", "<p>html</p>")
    raw = bytes(build_mime(email, sender="noreply@acme.example", sender_name="Acme"))
    assert not any(line.lower().startswith(b"bcc:") for line in header_lines(raw))


def test_clean_header_text() -> None:
    assert clean_header_text("  a\r\n\tb\x00c\u2028d  ") == "a b c d"
    assert len(clean_header_text("x" * 1000)) == 250
