"""The dev mailbox: ``/dev/mailbox`` (a page) and ``/dev/mailbox/messages`` (JSON). Dev mode only."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from keyless.core.ports import DevMailboxStore
from keyless.web.pages import render_page


def build_router(store: DevMailboxStore) -> APIRouter:
    router = APIRouter(prefix="/dev/mailbox", tags=["Development"])

    @router.get("/messages", summary="Messages in the dev mailbox, newest first")
    async def messages(to: str | None = Query(None, max_length=320), limit: int = Query(50, ge=1, le=500)) -> Response:
        items = await store.list(to, limit)
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

    @router.get("", response_class=HTMLResponse, summary="The dev mailbox page")
    async def page(request: Request, to: str | None = Query(None, max_length=320)) -> HTMLResponse:
        items = await store.list(to, 50)
        return render_page(request, "devmailbox.html", {"messages": items, "to": to or ""})

    return router
