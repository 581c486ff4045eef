"""`milvus-backup list`."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from milvus_backup.cli import render

EPILOG = """[b]Examples[/b]

  milvus-backup list

  milvus-backup list --json

A backup whose create failed or was killed shows as [b]incomplete[/b]: restore refuses it and delete removes it.
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
    rows = [
        (
            b.name,
            b.state,
            f"{b.size / 1e6:.1f} MB" if b.size else "",
            ", ".join(b.collections) or b.detail,
            b.created,
            b.milvus_version,
        )
        for b in backups
    ]
    render.print_table(
        ["name", "state", "size", "collections", "created (UTC)", "milvus"], rows, title=f"{len(backups)} backup(s)"
    )
