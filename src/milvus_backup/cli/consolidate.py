"""`milvus-backup consolidate`."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from milvus_backup.cli import render, runs

EPILOG = """[b]Examples[/b]

  milvus-backup consolidate -n tuesday

  milvus-backup consolidate -n tuesday --json

Copies into an incremental backup's folder every object it references in other backups (server-side where the
storage can), then rewrites its manifest without references: the backup no longer needs its base, which can then
be deleted, and the Go milvus-backup can read it. A backup that references nothing is left as it is.

[b]Exit status[/b]: 0 success; 10 no such backup; 12 incomplete; 20-29 a storage failure (the backup still reads
as before).
"""


def consolidate(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("-n", "--name", help="Backup name.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    timeout: runs.Timeout = None,
) -> None:
    """Make an incremental backup self-contained: copy in the data it references."""
    from milvus_backup import library, wiring
    from milvus_backup.cli.progress import progress_for_stderr

    config = ctx.obj.load().config
    with wiring.new_run(config, progress=progress_for_stderr(), timeout=timeout, what=f"consolidate {name}") as run:
        result = library.consolidate_backup(config, name, run)
    if json_output:
        render.print_json(dataclasses.asdict(result))
        return
    if not result.former_owners:
        render.print_line(f"consolidate success: {name} already holds all its data")
        return
    render.print_line(
        f"consolidate success: {name}: copied {result.objects} object(s), {result.bytes / 1e6:.1f} MB from "
        f"{', '.join(result.former_owners)} in {result.seconds:.1f} s; it references no other backup now"
    )
