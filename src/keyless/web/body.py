"""Reading a JSON request body: media type first, size before parsing, an object or nothing."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from keyless.errors import MalformedBody, PayloadTooLarge, UnsupportedMediaType

MAX_BODY_BYTES = 64 * 1024


async def read_json_object(request: Request, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        raise UnsupportedMediaType()
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
        raise PayloadTooLarge()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge()
        chunks.append(chunk)
    try:
        data = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise MalformedBody() from None
    if not isinstance(data, dict):
        raise MalformedBody()
    return data
