"""Request bodies are JSON whatever their Content-Type, as the Go server binds them: `curl -d '{...}'` labels its
body `application/x-www-form-urlencoded`, and scripts written for the Go server often send no Content-Type at all.

A body that is not labelled JSON is relabelled `application/json` before FastAPI reads it, so it is validated by
the same pydantic model and a body that is not JSON gets the same 400 ("the request body is not valid JSON").

Those labels are the ones a browser may send to another site without asking it first (no CORS preflight), so
a web page on another origin could otherwise post a restore to a server on the user's machine. Such a request,
a body not labelled JSON that a browser marks as coming from another origin, is refused with 403.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from milvus_backup.api.errors import error_response

_WITH_BODY = ("POST", "PUT", "PATCH")


def is_json(content_type: str) -> bool:
    """`application/json`, `application/<x>+json`, with or without parameters."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def cross_origin(headers: Headers) -> bool:
    """Whether a browser says the request comes from a page of another origin (curl and scripts send neither
    header)."""
    if headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = headers.get("origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc.lower() != headers.get("host", "").lower()


class JsonBodyMiddleware:
    """Relabels API request bodies as JSON (see the module's docstring)."""

    def __init__(self, app: ASGIApp, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if is_json(headers.get("content-type", "")):
            await self.app(scope, receive, send)
            return
        if cross_origin(headers):
            response = error_response(
                Request(scope),
                403,
                "ForbiddenError",
                f"a request from another origin ({headers.get('origin') or 'cross-site'}) must send its body as "
                "Content-Type: application/json",
                "Browsers send JSON bodies labelled application/json; other labels are only read from clients that "
                "are not web pages (curl, scripts).",
            )
            await response(scope, receive, send)
            return
        relabelled = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
        relabelled.append((b"content-type", b"application/json"))
        await self.app({**scope, "headers": relabelled}, receive, send)


class BodyLimitMiddleware:
    """Answers 413 to a request whose body is larger than `limit` bytes (`server.maxBodyBytes`), before anything
    parses it: by its Content-Length when it states one, else once the bytes received pass the limit."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        ended: Message | None = None  # a disconnect before the body's end is passed on as it came
        while True:
            message = await receive()
            if message["type"] != "http.request":
                ended = message
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        pending: list[Message] = [ended or {"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay() -> Message:
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            Request(scope),
            413,
            "UsageError",
            f"the request body is larger than {self.limit} bytes",
            "Send a smaller request; the limit is server.maxBodyBytes.",
        )
        response.headers["Connection"] = "close"  # the rest of the body is not read
        await response(scope, receive, send)
