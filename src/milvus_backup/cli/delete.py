"""`milvus-backup delete`."""

from __future__ import annotations

from typing import Annotated

import typer

from milvus_backup.cli import render

EPILOG = """[b]Examples[/b]

  milvus-backup delete -n my_backup

Removes every object of the backup, also of an incomplete one. An unknown name is an error (exit 10).
"""


def delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("-n", "--name", help="Backup name.")],
) -> None:
    """Delete a backup and all of its objects."""
    from milvus_backup.library import delete_backup

    removed = delete_backup(ctx.obj.load().config, name)
    render.print_line(f"delete backup success: {name} ({removed} objects)")
