"""Server-rendered HTML pages (Jinja2, autoescaped) and the headers every HTML response carries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

_env = Environment(
    loader=FileSystemLoader(str(Path(__file__).with_name("templates"))),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["utc"] = lambda ts: datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

# No inline script, no framing, nothing from other origins. ``form-action`` also governs where a
# form's redirect may go, so pages whose form ends at the application name its origin.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'{targets}; frame-ancestors 'none'"
)
HTML_SECURITY_HEADERS = {
    "Content-Security-Policy": _CSP.format(targets=""),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def origin_of(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def render_page(
    request: Request,
    template: str,
    context: dict[str, Any],
    status_code: int = 200,
    form_targets: tuple[str, ...] = (),
) -> HTMLResponse:
    branding = getattr(request.app.state, "branding", {})
    html = _env.get_template(template).render(**branding, **context)
    headers = dict(HTML_SECURITY_HEADERS)
    if form_targets:
        targets = "".join(" " + origin_of(t) for t in form_targets)
        headers["Content-Security-Policy"] = _CSP.format(targets=targets)
    return HTMLResponse(html, status_code=status_code, headers=headers)
