"""Optional bearer-token auth (`server.authToken`, env MILVUS_BACKUP_SERVER_TOKEN)."""

from __future__ import annotations

import secrets

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

from milvus_backup.api.errors import error_response

#: Reachable without the token: health for load balancers, and the page (it holds no data; it asks for the token
#: and sends it with every call).
OPEN_PATHS = ("/api/v1/hello", "/healthz", "/")
#: Reachable without the token with `server.publicMetrics`: metrics for a Prometheus without the token, and the API
#: docs. They tell the server's jobs, backup names and routes, so by default they need the token too.
PUBLIC_METRICS_PATHS = ("/metrics", "/docs", "/redoc", "/openapi.json")
#: Prefixes reachable without the token: the page's files, the docs pages' scripts and styles and oauth2 redirect.
OPEN_PREFIXES = ("/static/", "/docs/")


class BearerTokenMiddleware(BaseHTTPMiddleware):
    def __init__(self, app: object, token: str, public_metrics: bool = False) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self._expected = f"Bearer {token}".encode()
        self._open = OPEN_PATHS + (PUBLIC_METRICS_PATHS if public_metrics else ())

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.url.path in self._open or request.url.path.startswith(OPEN_PREFIXES):
            return await call_next(request)
        given = request.headers.get("authorization", "").encode()
        if not secrets.compare_digest(given, self._expected):
            response: JSONResponse = error_response(
                request,
                401,
                "UnauthorizedError",
                "missing or wrong bearer token",
                "Send `Authorization: Bearer <server.authToken>`.",
            )
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return await call_next(request)
