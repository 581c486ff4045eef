"""`milvus-backup delete`."""

from __future__ import annotations

from typing import Annotated

import typer

from milvus_backup.cli import render

EPILOG = """[b]Examples[/b]

  milvus-backup delete -n my_backup

  milvus-backup delete -n monday --with-dependents

Removes every object of the backup, also of an incomplete one. An unknown name is an error (exit 10). A backup
whose data incremental backups reference is refused (exit 19, naming them): delete them with it
(--with-dependents), or make them self-contained first (`milvus-backup consolidate -n NAME`).
"""


def delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("-n", "--name", help="Backup name.")],
    with_dependents: Annotated[
        bool, typer.Option("--with-dependents", help="Also delete the incremental backups that reference it.")
    ] = False,
) -> None:
    """Delete a backup and all of its objects."""
    from milvus_backup import library

    config = ctx.obj.load().config
    if not with_dependents:
        removed = library.delete_backup(config, name)
        render.print_line(f"delete backup success: {name} ({removed} objects)")
        return
    for backup, removed in library.delete_with_dependents(config, name):
        render.print_line(f"delete backup success: {backup} ({removed} objects)")
