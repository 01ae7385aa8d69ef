"""TemplateRenderer: every template set, escaping, content rules (EM-05) and the start-up check."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from markupsafe import escape

from keyless.clock import ManualClock
from keyless.core.models import EmailContent, PasswordlessType, TemplateType
from keyless.core.ports import EmailRenderer
from keyless.errors import ConfigurationError
from keyless.mail.render import TEMPLATE_SETS, TemplateRenderer, relative_time

CODE = "428193"
LINK = "https://app.example.com/verify?next=%2Fhome&link_token=Zq3xT0kenValue_-abc"
ALL = [(t, k) for t in (TemplateType.SIGNIN, TemplateType.SIGNUP) for k in PasswordlessType]


def content(
    template: TemplateType = TemplateType.SIGNIN,
    kind: PasswordlessType = PasswordlessType.LINK_OTP,
    variables: dict[str, str] | None = None,
    *,
    now: float = 1_700_000_000.0,
    lifetime: int = 300,
) -> EmailContent:
    return EmailContent(
        recipient="alice@example.com",
        template=template,
        passwordless_type=kind,
        code=CODE if kind.has_code else None,
        link=LINK if kind.has_link else None,
        expires_at=now + lifetime,
        lifetime_seconds=lifetime,
        variables=variables or {},
    )


def renderer(**kwargs: object) -> TemplateRenderer:
    options: dict[str, object] = {"app_name": "Acme", "clock": ManualClock()}
    options.update(kwargs)
    return TemplateRenderer(**options)  # type: ignore[arg-type]


def test_is_an_email_renderer() -> None:
    port: EmailRenderer = renderer()
    assert port is not None


def test_there_is_a_set_per_template_and_type() -> None:
    assert len(TEMPLATE_SETS) == 6


@pytest.mark.parametrize(("template", "kind"), ALL)
def test_every_set_renders_with_the_rules_of_em05(template: TemplateType, kind: PasswordlessType) -> None:
    out = renderer(support_email="help@acme.example").render(content(template, kind))
    assert out.recipient == "alice@example.com"
    assert out.subject and "\n" not in out.subject and "Acme" in out.subject
    for body, link in ((out.text, LINK), (out.html, str(escape(LINK)))):
        assert body.count(CODE) == (1 if kind.has_code else 0)
        assert body.count(link) == (1 if kind.has_link else 0)
        assert "in 5 minutes" in body
        assert "2023-11-14 22:18 UTC" in body  # 1_700_000_300 as UTC
        assert "ignore" in body
        assert "Acme" in body
        assert "help@acme.example" in body
        assert "alice@example.com" in body
    assert "<img" not in out.html  # no logo configured: no image at all, so no tracking pixel
    assert "http://" not in out.html
    assert "link_token" not in out.html.replace(str(escape(LINK)), "")


@pytest.mark.parametrize("kind", list(PasswordlessType))
def test_signup_wording_differs_from_signin(kind: PasswordlessType) -> None:
    r = renderer()
    signin = r.render(content(TemplateType.SIGNIN, kind))
    signup = r.render(content(TemplateType.SIGNUP, kind))
    assert "sign in" in signin.text.lower()
    assert "create your acme account" in signup.text.lower()
    assert "confirm your email" in signup.subject.lower()
    assert signin.subject != signup.subject


def test_unspecified_template_uses_signin_wording() -> None:
    out = renderer().render(content(TemplateType.UNSPECIFIED, PasswordlessType.OTP))
    assert out.subject == "Your Acme sign-in code"


def test_html_escapes_template_variables() -> None:
    evil = "<img src=//evil>"
    out = renderer().render(content(variables={"app_name": evil}))
    assert evil not in out.html
    assert "&lt;img src=//evil&gt;" in out.html
    assert "<img" not in out.html


def test_subject_is_one_line_without_control_characters() -> None:
    out = renderer().render(content(variables={"app_name": "Acme\r\nBcc: x@evil.example\x00\u2028"}))
    assert "\r" not in out.subject and "\n" not in out.subject
    assert "\x00" not in out.subject and "\u2028" not in out.subject


def test_reserved_names_cannot_be_replaced_by_callers() -> None:
    variables = {
        "otp": "999999",
        "link": "https://evil.example/",
        "email": "eve@evil.example",
        "primary_color": "red;background:url(//evil)",
        "expiry_time": "never",
    }
    out = renderer().render(content(variables=variables))
    assert CODE in out.text and "999999" not in out.text
    assert "evil" not in out.text and "evil" not in out.html
    assert "never" not in out.text


def test_caller_variables_reach_templates(tmp_path: Path) -> None:
    (tmp_path / "signin_otp.txt").write_text(
        '{% extends "base.txt" %}{% block body %}Hi {{ first_name | default("there") }}, '
        "your code is {{ otp }}.{% endblock %}"
    )
    r = renderer(templates_dir=tmp_path)
    r.check()  # the sample data has no first_name: ``default`` keeps the override valid
    out = r.render(content(kind=PasswordlessType.OTP, variables={"first_name": "Alice"}))
    assert out.text.startswith(f"Hi Alice, your code is {CODE}.")
    # Files the directory does not override still come from the built-in set.
    assert CODE in out.html and "<!DOCTYPE html>" in out.html


def test_logo_only_when_configured() -> None:
    logo = "https://cdn.acme.example/logo.png"
    out = renderer(app_logo_url=logo).render(content())
    assert out.html.count("<img") == 1 and f'src="{logo}"' in out.html
    # A caller cannot add an image where the operator configured none...
    none = renderer().render(content(variables={"app_logo_url": "https://tracker.example/p.gif"}))
    assert "<img" not in none.html
    # ...may swap the configured one for another https image, but never for another scheme.
    swapped = renderer(app_logo_url=logo).render(content(variables={"app_logo_url": "https://b.example/l.png"}))
    assert 'src="https://b.example/l.png"' in swapped.html
    refused = renderer(app_logo_url=logo).render(content(variables={"app_logo_url": "javascript:alert(1)"}))
    assert "javascript" not in refused.html and f'src="{logo}"' in refused.html


def test_relative_expiry_counts_from_now() -> None:
    clock = ManualClock(1_700_000_000.0)
    r = renderer(clock=clock)
    clock.advance(120)  # a retry two minutes later says how long is really left
    assert "in 3 minutes" in r.render(content()).text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (300, "in 5 minutes"),
        (299.4, "in 5 minutes"),
        (60, "in 1 minute"),
        (20, "in less than a minute"),
        (3600, "in 1 hour"),
        (7200, "in 2 hours"),
        (5400, "in 90 minutes"),
        (-5, "in less than a minute"),
    ],
)
def test_relative_time(seconds: float, text: str) -> None:
    assert relative_time(seconds) == text


def test_builtin_templates_pass_the_check() -> None:
    renderer().check()


def test_check_names_a_template_with_an_undefined_variable(tmp_path: Path) -> None:
    (tmp_path / "signup_link.html").write_text(
        '{% extends "base.html" %}{% block content %}{{ link }} {{ otp }}\n{{ no_such_variable }}{% endblock %}'
    )
    r = renderer(templates_dir=tmp_path)
    with pytest.raises(ConfigurationError, match=r"signup_link\.html.*no_such_variable"):
        r.check()


def test_check_names_a_template_with_a_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "signin_otp.subject.txt").write_text("Code for {{ app_name ")
    with pytest.raises(ConfigurationError, match=r"signin_otp\.subject\.txt, line 1"):
        renderer(templates_dir=tmp_path).check()


def test_check_refuses_a_template_without_the_code(tmp_path: Path) -> None:
    (tmp_path / "signin_otp.txt").write_text("Your code is on its way.")
    with pytest.raises(ConfigurationError, match=r"signin_otp\.txt does not show the code"):
        renderer(templates_dir=tmp_path).check()


def test_templates_run_in_a_sandbox(tmp_path: Path) -> None:
    (tmp_path / "signin_otp.txt").write_text("{{ otp }} {{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(ConfigurationError, match=r"signin_otp\.txt"):
        renderer(templates_dir=tmp_path).check()


def test_missing_templates_dir_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a directory"):
        renderer(templates_dir=tmp_path / "nope")


def test_primary_color_must_be_a_hex_colour() -> None:
    with pytest.raises(ConfigurationError):
        renderer(primary_color="red;background:url(//evil)")


def test_rendering_reuses_compiled_templates() -> None:
    r = renderer()
    sample = content()
    r.render(sample)
    runs = 200
    start = time.perf_counter()
    for _ in range(runs):
        r.render(sample)
    per_email = (time.perf_counter() - start) / runs
    # Compiling costs milliseconds; a cached render is about 0.1 ms. The bound is loose for slow CI.
    assert per_email < 0.002
