"""What the long commands (create, restore, verify) share: `--timeout`, `--strict`, and their warnings."""

from __future__ import annotations

from typing import Annotated

import typer

from milvus_backup.cli import render
from milvus_backup.errors import WarningsAsErrorsError

Timeout = Annotated[
    float | None,
    typer.Option(
        "--timeout", min=0.001, help="Give up after this many seconds and clean up as after a failure (exit 43)."
    ),
]
Strict = Annotated[bool, typer.Option("--strict", help="Fail with exit 4 when the run had warnings.")]


def counted(warnings: list[str]) -> str:
    """The summary line's note of the warnings, if any."""
    return f", {len(warnings)} warning(s)" if warnings else ""


def print_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        render.stdout.print(f"[yellow]warning[/yellow]: {warning}", highlight=False)


def enforce_strict(strict: bool, warnings: list[str]) -> None:
    """Under --strict a run with warnings fails, after its result was printed."""
    if strict and warnings:
        raise WarningsAsErrorsError(count=len(warnings), detail="; ".join(warnings))
