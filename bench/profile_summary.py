"""Summarise a py-spy ``--format raw`` profile (folded stacks) of the keyless server.

    python bench/profile_summary.py bench/results/profile-<timestamp>.txt

Two views: *self* time by component (each sample goes to the innermost frame that matches a rule, so
a sample inside pydantic counts as pydantic whoever called it), and *inclusive* time of the hot-path
entry points (share of samples with that function anywhere on the stack).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

# (category, substrings of a frame such as "_run_transaction (keyless/storage/sqlite.py:72)"); first match
# from the innermost frame outwards wins, and within one frame the first rule in this list.
SELF_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("SQLite write transactions (writer thread)", ("_run_transaction (keyless/storage/sqlite.py",)),
    ("SQLite reads on the event loop", ("_read (keyless/storage/sqlite.py",)),
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
    ("uvloop's C loop (epoll, socket I/O; no Python frame)", ("run (asyncio/runners.py",)),
    ("asyncio / uvloop (tasks, futures, queues, scheduling)", ("asyncio/", "uvloop")),
)

# (label, substrings): share of samples with any matching frame anywhere on the stack.
INCLUSIVE_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("event loop thread (all of it)", ("<module> (keyless",)),
    ("SQLite writer thread (all of it)", ("_worker (concurrent/futures/thread.py",)),
    ("FastAPI app, all requests (app.__call__ down)", ("__call__ (fastapi/applications.py",)),
    ("POST send handler", ("send (keyless/web/rest.py",)),
    ("POST verify handler", ("verify (keyless/web/rest.py",)),
    ("GET dev mailbox handler", ("messages (keyless/web/devmailbox.py",)),
    ("outbox delivery on the loop (render, mailbox write, mark sent)", ("_run (keyless/mail/outbox.py",)),
    ("FastAPI request-parameter solving (solve_dependencies)", ("solve_dependencies (fastapi/",)),
    ("Bearer authentication (ApiAuthenticator.caller)", ("caller (keyless/web/auth.py",)),
    ("JSON body read + pydantic validation (rest._parse)", ("_parse (keyless/web/rest.py",)),
    ("email validation (parse_email)", ("parse_email (keyless/core/emails.py",)),
    ("public ids (generate_prefixed_id)", ("generate_prefixed_id (keyless",)),
    ("Jinja2 render (TemplateRenderer.render)", ("render (keyless/mail/render.py",)),
    ("submitting/awaiting writer hops (SqliteDatabase.transaction)", ("transaction (keyless/storage/sqlite.py",)),
    ("SQLite reads on the loop (SqliteDatabase._read)", ("_read (keyless/storage/sqlite.py",)),
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


LOOP, WRITER = "event loop thread", "SQLite writer thread"


def _thread(frames: list[str]) -> str:
    return WRITER if frames[0].startswith("Thread._bootstrap (threading.py") else LOOP


def summarise(path: Path, cpu_ms: dict[str, float] | None = None) -> dict[str, Any]:
    """Shares of samples per thread and component; with ``cpu_ms`` (measured CPU ms per flow of each
    thread, e.g. from psutil) also ms per flow, which corrects the split between threads for samples
    taken while a thread waited for a CPU on a busy machine."""
    stacks = read_folded(path)
    total = sum(count for _, count in stacks) or 1
    per_thread: Counter[str] = Counter()
    by_self: Counter[tuple[str, str]] = Counter()
    by_inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        thread = _thread(frames)
        per_thread[thread] += count
        by_self[(thread, _self_category(frames))] += count
        for label, needles in INCLUSIVE_RULES:
            if any(_matches(frame, needle) for frame in frames for needle in needles):
                by_inclusive[label] += count

    def ms(thread: str, n: int) -> float | None:
        if not cpu_ms or thread not in cpu_ms or not per_thread[thread]:
            return None
        return round(cpu_ms[thread] * n / per_thread[thread], 3)

    rows = [
        {"thread": thread, "component": name, "pct": round(100 * n / total, 1), "ms_per_flow": ms(thread, n)}
        for (thread, name), n in by_self.most_common()
    ]
    loop_ms = (cpu_ms or {}).get(LOOP)
    return {
        "samples": total,
        "threads": {t: round(100 * n / total, 1) for t, n in per_thread.items()},
        "cpu_ms_per_flow": cpu_ms,
        "self": rows,
        "inclusive": [
            {
                "entry": label,
                "pct": round(100 * by_inclusive[label] / total, 1),
                # entry points run on the loop thread: scale by its share
                "ms_per_flow": (cpu_ms or {}).get(WRITER)
                if label == INCLUSIVE_RULES[1][0]
                else round(loop_ms * by_inclusive[label] / per_thread[LOOP], 3)
                if loop_ms and per_thread[LOOP]
                else None,
            }
            for label, _ in INCLUSIVE_RULES
        ],
    }


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def to_markdown(summary: dict[str, Any]) -> str:
    threads = ", ".join(f"{t} {pct:.0f} %" for t, pct in summary["threads"].items())
    cpu = summary.get("cpu_ms_per_flow") or {}
    measured = ", ".join(f"{t} {v:.2f} ms" for t, v in cpu.items())
    return "\n".join(
        [
            f"{summary['samples']} samples of the non-idle threads ({threads})."
            + (f" Measured CPU per flow in the same window (psutil, per thread): {measured}." if cpu else ""),
            "",
            "| component (self time: innermost matching frame) | thread | share of samples | ≈ ms per flow |",
            "|---|---|---:|---:|",
            *(
                f"| {r['component']} | {r['thread']} | {r['pct']:.1f} % | {_ms(r['ms_per_flow'])} |"
                for r in summary["self"]
            ),
            "",
            "| entry point (inclusive: anywhere on the stack) | share of samples | ≈ ms per flow |",
            "|---|---:|---:|",
            *(f"| {r['entry']} | {r['pct']:.1f} % | {_ms(r['ms_per_flow'])} |" for r in summary["inclusive"]),
        ]
    )


GC_SYMBOLS = ("gc_collect", "visit_decref", "visit_reachable", "move_unreachable", "update_refs", "subtract_refs")


def _perf_report(data: Path, sort: str) -> list[tuple[float, str]]:
    out = subprocess.run(
        ["perf", "report", "-i", str(data), "--sort", sort, "--stdio"], capture_output=True, text=True, check=True
    ).stdout
    rows = []
    for line in out.splitlines():
        pct, _, rest = line.strip().partition("%")
        if line.startswith("#") or not rest:
            continue
        try:
            rows.append((float(pct), rest.strip()))
        except ValueError:
            continue
    return rows


def perf_summary(data: Path, pid: int) -> dict[str, Any]:
    """CPU-clock samples (``perf record -e cpu-clock``): only where a thread really ran. Python frames
    are invisible to perf on 3.11, so this is the native split: interpreter, kernel, SQLite, libraries."""
    symbols = _perf_report(data, "sym")
    return {
        "dso": [(pct, name) for pct, name in _perf_report(data, "dso") if pct >= 0.3],
        "threads": [
            (pct, LOOP if name.split(":")[0] == str(pid) else f"other thread {name.split(':')[0]} ({WRITER})")
            for pct, name in _perf_report(data, "pid")
        ],
        "gc_pct": round(sum(p for p, sym in symbols if any(g in sym for g in GC_SYMBOLS)), 1),
        "kernel_top": [(p, sym) for p, sym in symbols if sym.startswith("[k]")][:6],
    }


def perf_markdown(perf: dict[str, Any]) -> str:
    threads = ", ".join(f"{name} {pct:.0f} %" for pct, name in perf["threads"])
    kernel = ", ".join(f"`{sym[4:]}` {pct:.1f} %" for pct, sym in perf["kernel_top"])
    return "\n".join(
        [
            f"perf (cpu-clock, on-CPU only) by thread: {threads}. By library:",
            "",
            "| library | share of on-CPU samples |",
            "|---|---:|",
            *(f"| {name} | {pct:.1f} % |" for pct, name in perf["dso"]),
            "",
            f"Python's cyclic garbage collector (`gc_collect_main`, `visit_*`, …): **{perf['gc_pct']:.1f} %**. "
            f"Top kernel symbols: {kernel}.",
        ]
    )


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: profile_summary.py PROFILE.txt")
    print(to_markdown(summarise(Path(sys.argv[1]))))


if __name__ == "__main__":
    main()
