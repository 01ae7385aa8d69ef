"""Every public error code is explained in docs/reference/errors.md."""

from __future__ import annotations

from pathlib import Path

from keyless.errors import CATALOGUE

DOC = Path(__file__).resolve().parents[2] / "docs" / "reference" / "errors.md"


def test_every_error_code_is_documented() -> None:
    text = DOC.read_text()
    missing = [code for code in CATALOGUE if f"`{code}`" not in text]
    assert missing == [], f"undocumented error codes: {missing}"
