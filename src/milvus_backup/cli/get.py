"""`milvus-backup get`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from milvus_backup.cli import render

EPILOG = """[b]Examples[/b]

  milvus-backup get -n my_backup

  milvus-backup get -n my_backup | jq '.collection_backups[].collection_name'

Prints the backup's full meta (full_meta.json) as indented JSON, with upstream's key names.
"""


def get(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("-n", "--name", help="Backup name.")],
) -> None:
    """Print everything a backup's meta says, as JSON."""
    from milvus_backup.library import get_backup
    from milvus_backup.meta.codec import to_dict

    info = get_backup(ctx.obj.load().config, name)
    render.stdout.out(json.dumps(to_dict(info), indent=2, ensure_ascii=False), highlight=False)
