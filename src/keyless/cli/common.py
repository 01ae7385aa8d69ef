"""What every ``keyless`` command shares: settings loading, one-line failures, JSON or Rich output,
and opening the container for a short piece of work."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from keyless.errors import ConfigurationError
from keyless.settings import Settings

if TYPE_CHECKING:
    from keyless.container import Container

# Piped output is read by people too (CI logs): wide enough that ids and URIs are never cut.
console = Console() if sys.stdout.isatty() else Console(width=160)
err = Console(stderr=True)
T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output (JSON on stdout)")]


def fail(message: str, code: int = 2) -> NoReturn:
    """One clear line on stderr and a non-zero exit: the only way a command reports a problem."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True, markup=True)
    raise typer.Exit(code)


def validation_problems(exc: ValidationError) -> list[str]:
    """Each failed setting as ``name (KEYLESS_NAME): why``."""
    problems = []
    for item in exc.errors():
        where = ".".join(str(p) for p in item.get("loc", ()))
        text = str(item.get("msg", "")).removeprefix("Value error, ")
        problems.append(f"invalid setting {where} (KEYLESS_{where.upper()}): {text}" if where else text)
    return problems


def load_settings(**overrides: Any) -> Settings:
    try:
        Settings.check_environment()
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        fail(validation_problems(exc)[0])
    except (ConfigurationError, ValueError) as exc:
        fail(str(exc))


def run(coro_factory: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await coro_factory()

    try:
        return asyncio.run(main())
    except ConfigurationError as exc:
        fail(str(exc))


def migrate(settings: Settings) -> None:
    from keyless.storage.migrate import upgrade
    from keyless.storage.url import parse_database_url

    try:
        upgrade(parse_database_url(settings.effective_database_url), settings.database_schema)
    except ConfigurationError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot reach the database: {exc}")


@asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[Container]:
    """The wired stores for one command, without starting the server's workers; closed on exit."""
    from keyless.container import build_container

    container = build_container(settings)
    try:
        yield container
    finally:
        await container.db.close()


def with_container(settings: Settings, work: Callable[[Container], Awaitable[T]]) -> T:
    """Migrate, then run ``work`` with an opened container."""
    migrate(settings)

    async def go() -> T:
        async with opened(settings) as container:
            return await work(container)

    return run(go)


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def timestamp(value: float | None) -> str:
    """UTC, to the second: what a person reads in a table (JSON keeps the raw Unix seconds)."""
    if value is None:
        return "-"
    from datetime import UTC, datetime

    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
