"""`milvus-backup list`."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from milvus_backup.cli import render

EPILOG = """[b]Examples[/b]

  milvus-backup list

  milvus-backup list --json

  milvus-backup list | cut -f1

A backup whose create failed or was killed shows as [b]incomplete[/b]: restore refuses it and delete removes it.

On a terminal the backups are a table. Otherwise (a pipe, a file) each backup is one line of tab-separated fields,
full values, no header: name, state, size in bytes, collections (comma-separated; for a backup that cannot be read,
the reason), created (UTC, ISO 8601), Milvus version, row-count proof, base (of an incremental backup); an
empty field is `-`. The proof is `proven` when every collection's is, else `unproven` or `skipped` (the first such
collection's state wins); `get` and `verify` show each collection's.
"""


def list_(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print the backups as JSON.")] = False,
) -> None:
    """List the backups in backup storage, complete or not."""
    from milvus_backup.library import list_backups

    backups = list_backups(ctx.obj.load().config)
    if json_output:
        render.print_json([dataclasses.asdict(b) for b in backups])
        return
    if not render.stdout.is_terminal:
        for b in backups:
            fields = (
                b.name,
                b.state,
                str(b.size),
                ",".join(b.collections) or b.detail,
                b.created,
                b.milvus_version,
                _proof(b.proof),
                b.base,
            )
            render.print_raw("\t".join(_plain(field) for field in fields))
        return
    rows = [
        (
            b.name,
            b.state,
            f"{b.size / 1e6:.1f} MB" if b.size else "",
            ", ".join(b.collections) or b.detail,
            b.created,
            b.milvus_version,
            _proof(b.proof),
            b.base,
        )
        for b in backups
    ]
    render.print_table(
        ["name", "state", "size", "collections", "created (UTC)", "milvus", "rows proven", "base"],
        rows,
        title=f"{len(backups)} backup(s)",
    )


def _proof(proofs: dict[str, str]) -> str:
    """The backup's proof in a word: proven when every collection's is, else the first other state."""
    states = [brief.split(" ", 1)[0].rstrip(":") for brief in proofs.values()]
    return next((s for s in states if s != "proven"), "proven" if states else "")


def _plain(value: str) -> str:
    """One field of a line: never empty, never a tab or a line break inside."""
    return " ".join(value.split()) or "-"
