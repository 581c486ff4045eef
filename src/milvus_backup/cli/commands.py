"""The command classes of the command line: as Typer's, but a flag's help shows no value type.

Typer's help prints `<bool>` beside every flag (`--json <bool>`), which reads as if the flag took a value; it
takes none (`--json`, never `--json true`). An empty metavar leaves the type column of flags blank.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand, TyperGroup


def _plain_flags(params: list[Any]) -> list[Any]:
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))


class Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))
