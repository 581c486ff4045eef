"""`milvus-backup get`."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer

from milvus_backup.cli import render

EPILOG = """[b]Examples[/b]

  milvus-backup get -n my_backup

  milvus-backup get -n my_backup | jq '.collection_backups[].collection_name'

Prints the backup's full meta (full_meta.json) as indented JSON, with upstream's key names, plus
[b]unflushed_deletes_accepted: true[/b] when the backup was made with --accept-unflushed-deletes, and two keys of
ours: `proof`, each collection's row-count proof ("db.collection" -> state, reason, backup_rows, count_before,
count_after), and `chain`: where its bytes lie (`bases`: the backup an incremental backup was made against, that
one's base, ...; `owned_bytes` in its own folder; `referenced_bytes` by the backup whose folder holds them).
"""


def get(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("-n", "--name", help="Backup name.")],
) -> None:
    """Print everything a backup's meta says, as JSON."""
    from milvus_backup import library
    from milvus_backup.meta.codec import to_dict
    from milvus_backup.service.catalog import proofs_of

    config = ctx.obj.load().config
    data = to_dict(library.get_backup(config, name))
    manifest = library.get_manifest(config, name)
    if manifest is not None and manifest.unflushed_deletes_accepted:
        data["unflushed_deletes_accepted"] = True
    data["proof"] = {key: dataclasses.asdict(proof) for key, proof in proofs_of(manifest).items()}
    chain = library.backup_chain(config, name)
    data["chain"] = {k: v for k, v in dataclasses.asdict(chain).items() if k != "name"}
    render.stdout.out(json.dumps(data, indent=2, ensure_ascii=False), highlight=False)
