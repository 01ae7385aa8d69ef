"""First start in dev mode: create the first API client and tell the person at the console."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from keyless.settings import Settings

FIRST_CLIENT_FILE = "first-client.json"


@dataclass(frozen=True, slots=True)
class FirstClient:
    client_id: str
    client_secret: str
    magiclink_uris: tuple[str, ...]
    redirect_uris: tuple[str, ...]


def write_first_client(settings: Settings, first: FirstClient) -> Path:
    """Dev mode keeps the first client's credentials in the data directory (0600) for the walkthrough."""
    path = settings.data_dir / FIRST_CLIENT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(
            {
                "client_id": first.client_id,
                "client_secret": first.client_secret,
                "magiclink_uris": list(first.magiclink_uris),
                "redirect_uris": list(first.redirect_uris),
                "env_url": settings.public_url,
            },
            handle,
            indent=2,
        )
    return path


def announce_first_client(settings: Settings, first: FirstClient, path: Path) -> None:
    lines = [
        "",
        "=" * 72,
        " keyless created its first API client (shown once; kept in " + str(path) + ")",
        f"   environment URL : {settings.public_url}",
        f"   client id       : {first.client_id}",
        f"   client secret   : {first.client_secret}",
        f"   magic-link URIs : {', '.join(first.magiclink_uris) or '-'}",
        f"   redirect URIs   : {', '.join(first.redirect_uris) or '-'}",
        f"   dev mailbox     : {settings.public_url}/dev/mailbox",
        "=" * 72,
        "",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
