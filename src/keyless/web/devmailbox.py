"""The dev mailbox: ``/dev/mailbox`` (a page) and ``/dev/mailbox/messages`` (JSON). Dev mode only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from keyless.core.ports import DevMailboxStore
from keyless.errors import FieldViolation, InvalidRequest
from keyless.web.pages import render_page

MESSAGES_PATH = "/dev/mailbox/messages"


def messages_handler(store: DevMailboxStore) -> Callable[[Request], Awaitable[Response]]:
    """``GET /dev/mailbox/messages?to=&limit=``: served by the fast routes (tests and the benchmark
    poll it), declared to FastAPI below for the docs."""

    async def messages(request: Request) -> Response:
        to = request.query_params.get("to")
        raw_limit = request.query_params.get("limit", "50")
        if (to is not None and len(to) > 320) or not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 500:
            raise InvalidRequest(violations=(FieldViolation("limit", "must be 1 to 500; to at most 320", "range"),))
        items = await store.list(to, int(raw_limit))
        body = {
            "messages": [
                {
                    "id": m.id,
                    "to": m.recipient,
                    "subject": m.subject,
                    "text": m.text,
                    "html": m.html,
                    "created_at": m.created_at,
                    "auth_request_id": m.auth_request_id,
                }
                for m in items
            ]
        }
        return Response(orjson.dumps(body), media_type="application/json", headers={"Cache-Control": "no-store"})

    return messages


def build_router(store: DevMailboxStore, messages: Callable[[Request], Awaitable[Response]]) -> APIRouter:
    router = APIRouter(prefix="/dev/mailbox", tags=["Development"])
    router.add_api_route("/messages", messages, methods=["GET"], summary="Messages in the dev mailbox, newest first")

    @router.get("", response_class=HTMLResponse, summary="The dev mailbox page")
    async def page(request: Request, to: str | None = Query(None, max_length=320)) -> HTMLResponse:
        items = await store.list(to, 50)
        return render_page(request, "devmailbox.html", {"messages": items, "to": to or ""})

    return router
