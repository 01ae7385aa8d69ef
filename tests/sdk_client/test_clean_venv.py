"""`pip install ./sdk/python` into a fresh virtualenv gives a working SDK without any of the server's
dependencies: `import keyless` fails there, the framework helpers say which extra they need, and a
whole send -> verify runs against a real keyless process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

from tests.sdk_client.conftest import MAGIC
from tests.support.server import ServerProcess
from tests.support.smtp import free_port

SDK = Path(__file__).resolve().parents[2] / "sdk" / "python"

SCRIPT = textwrap.dedent(
    """
    import importlib, importlib.metadata, json, re, sys, time
    import httpx

    report = {"installed": sorted(d.metadata["Name"].lower() for d in importlib.metadata.distributions())}
    for name in ("keyless", "fastapi", "flask", "sqlalchemy", "pydantic"):
        try:
            importlib.import_module(name)
            report[name] = "importable"
        except ImportError:
            report[name] = "missing"
    try:
        import keyless_sdk.fastapi
    except ImportError as exc:
        report["fastapi_helper"] = str(exc)

    from keyless_sdk import KeylessClient, InvalidCodeError

    env_url, client_id, secret, magic = sys.argv[1:5]
    client = KeylessClient(env_url, client_id, secret)
    sent = client.passwordless.send_passwordless_email("clean@example.com", magiclink_auth_uri=magic)
    try:
        client.passwordless.verify_passwordless_email(code="000000", auth_request_id=sent.auth_request_id)
    except InvalidCodeError as exc:
        report["wrong_code"] = exc.error_code
    code = None
    for _ in range(100):
        messages = httpx.get(env_url + "/dev/mailbox/messages", params={"to": "clean@example.com"}).json()["messages"]
        if messages:
            code = re.search(r"\\b\\d{6}\\b", messages[0]["text"]).group()
            break
        time.sleep(0.05)
    verified = client.passwordless.verify_passwordless_email(code=code, auth_request_id=sent.auth_request_id)
    report["verified"] = verified.email
    report["token_valid"] = client.validate_access_token(client.get_client_access_token())
    print(json.dumps(report))
    """
)


def test_sdk_installs_and_works_in_a_clean_virtualenv(tmp_path: Path) -> None:
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    python = target / "bin" / "python"
    # A copy, so the build leaves nothing in the checkout (and parallel runs never share a build dir).
    source = tmp_path / "sdk"
    shutil.copytree(SDK, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    port = free_port()
    origin = f"http://127.0.0.1:{port}"  # public_url is the token issuer the SDK checks
    with ServerProcess(tmp_path / "server", port, public_url=origin, passwordless_type="LINK_OTP") as server:
        first = json.loads((server.workdir / "keyless-data" / "first-client.json").read_text())
        script = tmp_path / "flow.py"
        script.write_text(SCRIPT)
        # Run from the temp dir with a clean environment, so nothing from this checkout is importable.
        ran = subprocess.run(
            [str(python), "-I", str(script), server.url, first["client_id"], first["client_secret"], MAGIC],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            check=False,
        )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    report = json.loads(ran.stdout)
    assert "keyless-sdk" in report["installed"] and "keyless" not in report["installed"]
    assert report["keyless"] == "missing" and report["sqlalchemy"] == "missing" and report["pydantic"] == "missing"
    assert report["fastapi"] == "missing" and report["flask"] == "missing"
    assert "pip install 'keyless-sdk[fastapi]'" in report["fastapi_helper"]
    assert report["wrong_code"] == "INVALID_CODE" and report["verified"] == "clean@example.com"
    assert report["token_valid"] is True
    assert sys.version_info >= (3, 10)
