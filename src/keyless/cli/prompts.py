"""Questions for a person at a terminal; with no terminal (CI, pipes) a command never waits for one."""

from __future__ import annotations

import sys

import typer

from keyless.cli.common import fail


def interactive() -> bool:
    return sys.stdin.isatty()


def confirm_or_fail(yes: bool, question: str) -> None:
    """Destructive commands ask first; without a terminal they need ``--yes`` instead of waiting."""
    if yes:
        return
    if not interactive():
        fail("this changes data and needs confirmation: pass --yes")
    if not typer.confirm(question, default=False):
        fail("cancelled", code=1)
