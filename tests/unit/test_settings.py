"""Settings: sources, validation and the production rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from keyless.errors import ConfigurationError
from keyless.keymaterial import decode_key, load_key_material, new_key
from keyless.settings import Settings


def prod(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "mode": "production",
        "public_url": "https://auth.example.com",
        "mail_backend": "smtp",
        "credential_hmac_keys": [new_key()],
        "encryption_keys": [new_key()],
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def test_defaults_are_the_embedded_dev_setup() -> None:
    settings = Settings()
    assert settings.is_dev and settings.public_url == "http://localhost:8080"
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.mail_backend.value == "devmailbox"


def test_production_accepts_a_safe_configuration() -> None:
    assert prod().mode.value == "production"


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"credential_hmac_keys": []}, "credential_hmac_keys"),
        ({"encryption_keys": []}, "encryption_keys"),
        ({"mail_backend": "devmailbox"}, "devmailbox"),
        ({"smtp_security": "none"}, "plaintext"),
        ({"public_url": "http://auth.example.com"}, "https"),
    ],
)
def test_production_refuses_unsafe_settings(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        prod(**overrides)


@pytest.mark.parametrize("url", ["https://auth.example.com/path", "ftp://x", "auth.example.com", "https://a b"])
def test_public_url_must_be_an_origin(url: str) -> None:
    with pytest.raises(ValidationError):
        Settings(public_url=url)


def test_trailing_slash_is_dropped() -> None:
    assert Settings(public_url="https://auth.example.com/").public_url == "https://auth.example.com"


def test_environment_and_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "keyless.toml"
    config.write_text('app_name = "Acme"\nport = 9000\npasswordless_type = "LINK_OTP"\n')
    monkeypatch.setenv("KEYLESS_CONFIG_FILE", str(config))
    monkeypatch.setenv("KEYLESS_PORT", "9100")
    settings = Settings()
    assert settings.app_name == "Acme" and settings.passwordless_type.value == "LINK_OTP"
    assert settings.port == 9100  # the environment wins over the file


def test_unknown_settings_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "keyless.toml"
    config.write_text("no_such_setting = 1\n")
    monkeypatch.setenv("KEYLESS_CONFIG_FILE", str(config))
    with pytest.raises(ValidationError):
        Settings()


def test_masked_hides_every_secret() -> None:
    settings = prod(smtp_password="hunter2-smtp", database_url="postgresql://u:pw-secret@db/x")
    text = repr(settings.masked())
    for secret in [k.get_secret_value() for k in settings.credential_hmac_keys + settings.encryption_keys]:
        assert secret not in text
    assert "hunter2-smtp" not in text and "pw-secret" not in text


def test_dev_secrets_are_generated_once_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first, second = load_key_material(settings), load_key_material(settings)
    assert first.generated and first.hmac_keys == second.hmac_keys
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("value", ["short", "!!!!", "00" * 16 + "zz"])
def test_bad_keys_are_refused(value: str) -> None:
    with pytest.raises(ConfigurationError):
        decode_key(value, name="encryption_keys", exact=32)


def test_hex_and_base64url_keys_decode() -> None:
    assert decode_key("ab" * 32, name="k", exact=32) == bytes.fromhex("ab" * 32)
    assert len(decode_key(new_key(), name="k", exact=32)) == 32
