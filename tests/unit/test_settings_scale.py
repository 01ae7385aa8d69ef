"""Scale-out settings: Redis, key refresh and housekeeping; and every setting is documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from keyless.container import build_limiter
from keyless.ratelimit.memory import InMemoryRateLimiter
from keyless.ratelimit.redis import RedisRateLimiter
from keyless.settings import Settings

CONFIG_DOC = Path(__file__).resolve().parents[2] / "docs" / "reference" / "configuration.md"


def test_limits_are_in_memory_unless_redis_is_configured() -> None:
    assert isinstance(build_limiter(Settings()), InMemoryRateLimiter)
    assert isinstance(build_limiter(Settings(redis_url="redis://127.0.0.1:6379/0")), RedisRateLimiter)


@pytest.mark.parametrize("url", ["http://redis:6379", "127.0.0.1:6379", "postgresql://x"])
def test_redis_url_must_name_redis(url: str) -> None:
    with pytest.raises(ValidationError, match="redis_url"):
        Settings(redis_url=url)


@pytest.mark.parametrize("prefix", ["", "has space", "a" * 65, "braces{}"])
def test_redis_key_prefix_is_a_plain_token(prefix: str) -> None:
    with pytest.raises(ValidationError, match="redis_key_prefix"):
        Settings(redis_key_prefix=prefix)


def test_retention_covers_the_access_token_lifetime() -> None:
    with pytest.raises(ValidationError, match="at least access_token_ttl"):
        Settings(purge_retention_seconds=600, access_token_ttl=900)
    assert Settings(purge_retention_seconds=900, access_token_ttl=900).purge_retention_seconds == 900


def test_the_redis_password_is_masked() -> None:
    masked = Settings(redis_url="redis://:s3cret@redis.internal:6379/0").masked()
    assert masked["redis_url"] == "redis://:***@redis.internal:6379/0"


def test_every_setting_is_in_the_configuration_reference() -> None:
    text = CONFIG_DOC.read_text()
    missing = [name for name in Settings.model_fields if f"`{name}`" not in text]
    assert not missing, f"document these settings in docs/reference/configuration.md: {missing}"
