"""The floor: a bare ASGI handler served exactly as ``keyless serve`` serves keyless.

Same server (uvicorn, uvloop + httptools), same options, one process. Every GET or POST reads the
request body and answers one tiny JSON document that also satisfies the flow driver (a token, an auth
request id and a mailbox message holding a code), so the driver runs the same three requests per flow.

    python bench/bare_app.py --port 8081
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

BODY = b'{"access_token":"bare","auth_request_id":"bare","messages":[{"text":"Use this code:\\n\\n    000000\\n"}]}'
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
    (b"cache-control", b"no-store"),
]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # The options of keyless.cli.main.serve, minus the lifespan this app has no use for.
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="off",
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
