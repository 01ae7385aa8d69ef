"""The floor: a bare ASGI handler served exactly as ``keyless serve`` serves keyless.

Same server (uvicorn, uvloop + httptools, keyless's own uvicorn options), one process. Every GET or
POST reads the request body and answers one tiny JSON document that also satisfies the flow driver (a token, an auth
request id and a mailbox message holding a code), so the driver runs the same three requests per flow.

    python bench/bare_app.py --port 8081
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.types import Receive, Scope, Send

BODY = b'{"access_token":"bare","auth_request_id":"bare","messages":[{"text":"Use this code:\\n\\n    000000\\n"}]}'
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
    (b"cache-control", b"no-store"),
]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def config(host: str, port: int) -> uvicorn.Config:
    """The uvicorn set-up ``keyless serve`` uses for HTTP/1.1 (uvloop, httptools; its HTTP/2 sniffing
    only classifies a connection once, then hands HTTP/1.1 to httptools), around a do-nothing app."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        timeout_keep_alive=75,
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="off",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.Server(config(args.host, args.port)).run()


if __name__ == "__main__":
    main()
