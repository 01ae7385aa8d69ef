"""Email rendering: Jinja2 in a sandbox, one template set per (template, passwordless type).

A set is ``<signin|signup>_<otp|link|link_otp>`` with ``.subject.txt``, ``.txt`` and ``.html`` files.
A configured directory overrides any file of the built-in set (ChoiceLoader: the directory first).
"""

from __future__ import annotations

import re
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment

from keyless.clock import Clock, SystemClock
from keyless.core.models import EmailContent, PasswordlessType, RenderedEmail, TemplateType
from keyless.errors import ConfigurationError
from keyless.mail.message import clean_header_text

if TYPE_CHECKING:
    from keyless.settings import Settings

BUILTIN_TEMPLATES = Path(__file__).with_name("templates")
TEMPLATE_SETS: tuple[str, ...] = tuple(
    f"{template}_{kind}" for template in ("signin", "signup") for kind in ("otp", "link", "link_otp")
)
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_VARIABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# Jinja gives these names a meaning of their own inside templates.
_JINJA_NAMES = frozenset({"self", "loop", "super", "caller", "varargs", "kwargs", "true", "false", "none"})
_SAMPLE_CODE = "123456"
_SAMPLE_LINK = "https://app.example.com/passwordless/verify?link_token=sample-link-token"


@dataclass(frozen=True, slots=True)
class _TemplateSet:
    subject: Template
    text: Template
    html: Template


def template_set_name(template: TemplateType, kind: PasswordlessType) -> str:
    prefix = "signup" if template is TemplateType.SIGNUP else "signin"
    return f"{prefix}_{kind.value.lower()}"


def relative_time(seconds: float) -> str:
    """``in 5 minutes``; rounded to the nearest minute so a few ms of processing do not show."""
    minutes = int((max(0.0, seconds) + 30) // 60)
    if minutes < 1:
        return "in less than a minute"
    if minutes % 60 == 0:
        hours = minutes // 60
        return "in 1 hour" if hours == 1 else f"in {hours} hours"
    return "in 1 minute" if minutes == 1 else f"in {minutes} minutes"


def absolute_time(moment: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(moment))


class TemplateRenderer:
    """The ``EmailRenderer`` port. Templates are compiled once and kept; rendering is the hot path."""

    def __init__(
        self,
        *,
        app_name: str = "keyless",
        app_logo_url: str | None = None,
        primary_color: str = "#4f46e5",
        support_email: str | None = None,
        templates_dir: Path | str | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not _COLOR.fullmatch(primary_color):
            # It lands in a style attribute, where escaping alone does not stop CSS injection.
            raise ConfigurationError("primary_color must look like #4f46e5")
        self._branding: dict[str, Any] = {
            "app_name": app_name,
            "app_logo_url": app_logo_url or None,
            "primary_color": primary_color,
            "support_email": support_email or None,
        }
        self._clock: Clock = clock or SystemClock()
        loaders = []
        if templates_dir is not None:
            if not Path(templates_dir).is_dir():
                raise ConfigurationError(f"mail_templates_dir {templates_dir} is not a directory")
            loaders.append(FileSystemLoader(str(templates_dir)))
        loaders.append(FileSystemLoader(str(BUILTIN_TEMPLATES)))
        self._env = ImmutableSandboxedEnvironment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(("html",), default_for_string=False, default=False),
            undefined=StrictUndefined,
            auto_reload=False,  # templates are checked at start-up and never change under a running server
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._sets: dict[str, _TemplateSet] = {}

    def render(self, content: EmailContent) -> RenderedEmail:
        templates = self._set(template_set_name(content.template, content.passwordless_type))
        context = self._context(content)
        return RenderedEmail(
            recipient=content.recipient,
            subject=clean_header_text(templates.subject.render(context)),
            text=templates.text.render(context),
            html=templates.html.render(context),
        )

    def check(self) -> None:
        """Render every set with sample data; raise ConfigurationError naming the broken file."""
        now = self._clock.now()
        for name in TEMPLATE_SETS:
            template = TemplateType.SIGNUP if name.startswith("signup") else TemplateType.SIGNIN
            kind = PasswordlessType(name.split("_", 1)[1].upper())
            sample = EmailContent(
                recipient="user@example.com",
                template=template,
                passwordless_type=kind,
                code=_SAMPLE_CODE if kind.has_code else None,
                link=_SAMPLE_LINK if kind.has_link else None,
                expires_at=now + 300,
                lifetime_seconds=300,
            )
            try:
                rendered = self.render(sample)
            except TemplateNotFound as exc:
                raise ConfigurationError(f"mail template {exc.name} is missing") from exc
            except TemplateSyntaxError as exc:
                where = exc.filename or exc.name
                raise ConfigurationError(f"mail template {where}, line {exc.lineno}: {exc.message}") from exc
            except Exception as exc:
                raise ConfigurationError(
                    f"mail template {_failing_template(exc, name)} does not render with sample data: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            _check_sample(name, kind, rendered)

    def _set(self, name: str) -> _TemplateSet:
        cached = self._sets.get(name)
        if cached is None:
            get = self._env.get_template
            cached = _TemplateSet(get(f"{name}.subject.txt"), get(f"{name}.txt"), get(f"{name}.html"))
            self._sets[name] = cached
        return cached

    def _context(self, content: EmailContent) -> dict[str, Any]:
        context = dict(self._branding)
        for key, value in content.variables.items():
            if key == "app_name" or (key not in context and key not in _JINJA_NAMES and _VARIABLE_NAME.fullmatch(key)):
                context[key] = value
        logo = content.variables.get("app_logo_url")
        if logo is not None:
            context["app_logo_url"] = self._caller_logo(logo)
        expiry = absolute_time(content.expires_at)
        # The reserved names are the server's; the core refuses them as template_variables anyway.
        context["email"] = content.recipient
        context["otp"] = content.code
        context["link"] = content.link
        context["expiry_time"] = expiry
        context["expire_time"] = expiry
        context["expiry_time_relative"] = relative_time(content.expires_at - self._clock.now())
        return context

    def _caller_logo(self, value: str) -> str | None:
        # A caller may swap the configured logo, but may not add an image where the operator chose
        # none (no third-party images, EM-05), and only an https URL is accepted.
        configured: str | None = self._branding["app_logo_url"]
        if configured is None or not value.startswith("https://"):
            return configured
        return value


def _failing_template(exc: BaseException, fallback: str) -> str:
    # Jinja rewrites tracebacks so that template frames carry the template's file name and line.
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if not frame.filename.endswith(".py") and not frame.filename.startswith("<"):
            return f"{frame.filename}, line {frame.lineno}"
    return fallback


def _check_sample(name: str, kind: PasswordlessType, rendered: RenderedEmail) -> None:
    if not rendered.subject:
        raise ConfigurationError(f"mail template {name}.subject.txt renders an empty subject")
    for part, body in (("txt", rendered.text), ("html", rendered.html)):
        if kind.has_code and _SAMPLE_CODE not in body:
            raise ConfigurationError(f"mail template {name}.{part} does not show the code ({{{{ otp }}}})")
        if kind.has_link and "link_token=sample-link-token" not in body:
            raise ConfigurationError(f"mail template {name}.{part} does not show the link ({{{{ link }}}})")


def build_renderer(settings: Settings, clock: Clock | None = None) -> TemplateRenderer:
    return TemplateRenderer(
        app_name=settings.app_name,
        app_logo_url=settings.app_logo_url,
        primary_color=settings.primary_color,
        support_email=settings.support_email,
        templates_dir=settings.mail_templates_dir,
        clock=clock,
    )
