"""Query parameters an API route does not take are refused (400), rather than silently ignored: a misspelt
`backup_nmae` would otherwise read as no name at all. The routes take upstream's parameters; upstream's
`get_backup?path=` and `bucket_name=` overrides are not supported, and are refused like any other."""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from milvus_backup.errors import FIELD_CHARS, UsageError, bounded

#: At most this many unknown names are listed in the error.
SHOWN = 5


def refuse_unknown_query_parameters(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.path.startswith("/api/"):
        return
    known = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        shown = ", ".join(repr(bounded(name, FIELD_CHARS)) for name in unknown[:SHOWN])
        more = f" and {len(unknown) - SHOWN} more" if len(unknown) > SHOWN else ""
        raise UsageError(
            detail=f"{route.path} takes no query parameter {shown}{more}",
            hint=f"{route.path} takes: {', '.join(sorted(known)) or 'no query parameters'}.",
        )


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters of a route and of its dependencies."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names
