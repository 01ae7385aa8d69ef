"""Summarise a py-spy ``--format raw`` profile (folded stacks) of the keyless server.

    python bench/profile_summary.py bench/results/profile-<timestamp>.txt

Two views: *self* time by component (each sample goes to the innermost frame that matches a rule, so
a sample inside pydantic counts as pydantic whoever called it), and *inclusive* time of the hot-path
entry points (share of samples with that function anywhere on the stack).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

# (category, substrings of a frame such as "_run_transaction (keyless/storage/sqlite.py:72)"); first match
# from the innermost frame outwards wins, and within one frame the first rule in this list.
SELF_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("SQLite write transactions (writer thread)", ("_run_transaction (keyless/storage/sqlite.py",)),
    ("SQLite reads on the event loop", ("_read (keyless/storage/sqlite.py", "_dict_factory (keyless")),
    ("Jinja2 e-mail rendering", ("jinja2/", "keyless/mail/render.py", "<template>", ".html:", ".txt:")),
    ("JWT verification / token service", ("joserfc/", "keyless/oidc/", "cryptography/")),
    ("email-validator", ("email_validator/", "keyless/core/emails.py", "idna/")),
    ("pydantic", ("pydantic",)),
    ("logging", ("logging/",)),
    ("thread-pool hop (executor, futures, thread wake-ups)", ("concurrent/futures/", "threading.py")),
    ("keyless stores (SQL params, row mapping)", ("keyless/storage/",)),
    ("keyless credentials (OTP, HMAC, AES-GCM seal)", ("keyless/core/credentials.py",)),
    ("keyless outbox worker / dev mailbox", ("keyless/mail/",)),
    ("keyless rate limiter", ("keyless/ratelimit/",)),
    ("keyless other (flows, auth, web glue, errors)", ("keyless/",)),
    ("orjson / json", ("orjson", "json/")),
    ("FastAPI (routing, parameters, handler dispatch)", ("fastapi/",)),
    ("Starlette (routing, Request/Response, middleware)", ("starlette/",)),
    ("uvicorn + httptools (HTTP protocol)", ("uvicorn/", "httptools")),
    ("asyncio / uvloop (tasks, futures, queues, scheduling)", ("asyncio/", "uvloop")),
)

# (label, substrings): share of samples with any matching frame anywhere on the stack.
INCLUSIVE_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("event loop thread (everything but the writer thread)", ("<module> (keyless",)),
    ("SQLite writer thread", ("_worker (concurrent/futures/thread.py",)),
    ("FastAPI app, all requests (app.__call__ down)", ("__call__ (fastapi/applications.py",)),
    ("POST send handler", ("send (keyless/web/rest.py",)),
    ("POST verify handler", ("verify (keyless/web/rest.py",)),
    ("GET dev mailbox handler", ("messages (keyless/web/devmailbox.py",)),
    ("outbox delivery on the loop (render + mailbox write + mark sent)", ("_run (keyless/mail/outbox.py",)),
    ("Bearer authentication (ApiAuthenticator.caller)", ("caller (keyless/web/auth.py",)),
    ("JSON body read + pydantic validation (rest._parse)", ("_parse (keyless/web/rest.py",)),
    ("email validation (parse_email)", ("parse_email (keyless/core/emails.py",)),
    ("Jinja2 render (TemplateRenderer.render)", ("render (keyless/mail/render.py",)),
    (
        "awaiting a writer hop on the loop (SqliteDatabase.transaction)",
        ("transaction (keyless/storage/sqlite.py",),
    ),
    ("SQLite reads (SqliteDatabase._read)", ("_read (keyless/storage/sqlite.py",)),
    ("FastAPI request-parameter solving (solve_dependencies)", ("solve_dependencies (fastapi/",)),
    (
        "Starlette routing (Router.__call__/app)",
        ("app (starlette/routing.py", "__call__ (starlette/routing.py"),
    ),
    ("uvicorn HTTP protocol (parse + write)", ("uvicorn/protocols/http/",)),
)


def read_folded(path: Path) -> list[tuple[list[str], int]]:
    stacks: list[tuple[list[str], int]] = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def _matches(frame: str, needle: str) -> bool:
    """A needle "name (file" names a function: py-spy writes "Class.name (file:line)" or
    "outer.<locals>.name (file:line)", so "transaction (" must not match "_run_transaction ("."""
    if " (" not in needle:
        return needle in frame
    want, _, where = needle.partition(" (")
    name, _, location = frame.partition(" (")
    return (name == want or name.endswith("." + want)) and location.startswith(where)


def _self_category(frames: list[str]) -> str:
    for frame in reversed(frames):
        for category, needles in SELF_RULES:
            if any(_matches(frame, needle) for needle in needles):
                return category
    return "other (interpreter, stdlib)"


def summarise(path: Path) -> dict[str, object]:
    stacks = read_folded(path)
    total = sum(count for _, count in stacks) or 1
    by_self: Counter[str] = Counter()
    by_inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        by_self[_self_category(frames)] += count
        for label, needles in INCLUSIVE_RULES:
            if any(_matches(frame, needle) for frame in frames for needle in needles):
                by_inclusive[label] += count
    return {
        "samples": total,
        "self": [(name, round(100 * n / total, 1)) for name, n in by_self.most_common()],
        "inclusive": [(label, round(100 * by_inclusive[label] / total, 1)) for label, _ in INCLUSIVE_RULES],
    }


def to_markdown(summary: dict[str, object]) -> str:
    self_rows: list[tuple[str, float]] = summary["self"]  # type: ignore[assignment]
    inclusive_rows: list[tuple[str, float]] = summary["inclusive"]  # type: ignore[assignment]
    lines = [
        f"Samples: {summary['samples']} (py-spy, non-idle threads of the server process).",
        "",
        "| component (self time: innermost matching frame) | share of server CPU samples |",
        "|---|---:|",
        *(f"| {name} | {pct:.1f} % |" for name, pct in self_rows),
        "",
        "| entry point (inclusive: anywhere on the stack) | share of server CPU samples |",
        "|---|---:|",
        *(f"| {name} | {pct:.1f} % |" for name, pct in inclusive_rows),
    ]
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: profile_summary.py PROFILE.txt")
    print(to_markdown(summarise(Path(sys.argv[1]))))


if __name__ == "__main__":
    main()
