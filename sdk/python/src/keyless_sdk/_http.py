"""What the sync and async drivers share: request headers, answer parsing, transport error mapping."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx

from keyless_sdk._core import HttpCall, HttpResult
from keyless_sdk.errors import KeylessConnectionError, KeylessTimeoutError

__version__ = "0.1.0"
USER_AGENT = f"keyless-sdk-python/{__version__}"
DEFAULT_TIMEOUT = 10.0

# The application's settings as `keyless setup` writes them. Not KEYLESS_*: the server refuses unknown
# KEYLESS_* variables in its environment, and an application's .env is often loaded in the same shell.
ENV_URL, ENV_CLIENT_ID, ENV_CLIENT_SECRET = "KL_ENV_URL", "KL_CLIENT_ID", "KL_CLIENT_SECRET"


def credentials_from_env(environ: Mapping[str, str] | None) -> tuple[str, str, str]:
    env = os.environ if environ is None else environ
    missing = [name for name in (ENV_URL, ENV_CLIENT_ID, ENV_CLIENT_SECRET) if not env.get(name)]
    if missing:
        raise ValueError(f"missing in the environment: {', '.join(missing)} (run `keyless setup` to write a .env)")
    return env[ENV_URL], env[ENV_CLIENT_ID], env[ENV_CLIENT_SECRET]


def request_args(env_url: str, call: HttpCall) -> dict[str, Any]:
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if call.bearer is not None:
        headers["Authorization"] = f"Bearer {call.bearer}"
    args: dict[str, Any] = {"method": call.method, "url": env_url + call.path, "headers": headers}
    if call.json is not None:
        args["json"] = call.json
    if call.form is not None:
        args["data"] = call.form
    return args


def result(response: httpx.Response) -> HttpResult:
    body: Any = None
    if "json" in response.headers.get("content-type", ""):
        try:
            body = response.json()
        except ValueError:
            body = None
    return HttpResult(response.status_code, body, response.headers.get("retry-after"))


def transport_error(exc: httpx.HTTPError, call: HttpCall) -> KeylessConnectionError:
    where = f"{call.method} {call.path}"
    if isinstance(exc, httpx.TimeoutException):
        return KeylessTimeoutError(f"{where} timed out")
    return KeylessConnectionError(f"{where} failed: {exc}")
