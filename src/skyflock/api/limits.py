"""A request-body size limit as a small ASGI middleware: over the limit is a 413.

A declared `Content-Length` over the limit is refused before the body is read;
a chunked body is counted as it arrives and refused once it passes the limit.
The answer is the API's usual JSON `{"error": ...}`.
Neighbours: `api.app` installs it in front of every route.
"""

from __future__ import annotations

import contextlib
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY = 16 * 1024 * 1024


class _TooLarge(Exception):
    pass


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB"


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "error": f"request body too large: the limit is {_mib(self.max_bytes)}; "
                "split the submit into several smaller ones"
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                if int(declared) > self.max_bytes:
                    await self._refuse(send)
                    return
            except ValueError:
                pass
        seen = 0
        too_large = False
        refused = False

        async def counting_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_large = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal refused
            if too_large:
                # Whatever the app makes of the interrupted body, the answer is 413.
                if not refused:
                    refused = True
                    await self._refuse(send)
                return
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if too_large and not refused:
            await self._refuse(send)
