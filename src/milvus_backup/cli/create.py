"""`milvus-backup create`."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated

import typer

from milvus_backup.cli import render, runs

if TYPE_CHECKING:
    from milvus_backup.service.create import CreateResult

EPILOG = """[b]Examples[/b]

  milvus-backup create -n my_backup -c coll

  milvus-backup create -n nightly -a '{"db1":["c1","c2"],"db2":[]}'

  milvus-backup create --filter 'db1.*,default.books' --strategy skip_flush --json

  milvus-backup create -n tuesday -c coll --incremental

With --incremental a segment the base backup holds unchanged is referenced, not copied; the base is --base, else
the newest complete backup of the same collections (none: everything is copied).

Without -c, -d, -a or --filter every collection of every database is backed up. --filter takes coll,
db.coll, db.* (the whole database) and db. (the database's metadata only).

[b]Exit status[/b]: 0 success; 2 bad flag or name; 11 the name exists; 22/23 storage refused or bucket missing;
31/32 Milvus unreachable or refused; 33/34 unknown database or collection; 37 Milvus storage does not hold the
reported binlogs; 18 the backup's live rows differ from Milvus's count(*) (nothing kept). Codes 10-19 are backups,
20-29 storage, 30-39 Milvus; see docs/exit-codes.md.

[b]Row-count proof[/b]: for each loaded collection the backup's live rows (read from the copied binlogs, deletes
applied) are compared with Milvus's count(*) before the flush and after the copy. Unproven (a warning) when the
collection is not loaded, rows changed meanwhile, or Milvus has no count(*) (2.2); --no-proof skips it.
"""


def create(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Option("-n", "--name", help="Backup name (default: backup_<UTC time>_<nanos>).")
    ] = None,
    colls: Annotated[str, typer.Option("-c", "--colls", help="Collections: comma list of coll or db.coll.")] = "",
    databases: Annotated[str, typer.Option("-d", "--databases", help="Whole databases: comma list.")] = "",
    database_collections: Annotated[
        str,
        typer.Option("-a", "--database_collections", help='JSON {"db1":["c1"],"db2":[]}; [] means the whole database.'),
    ] = "",
    force: Annotated[bool, typer.Option("-f", "--force", help="Do not flush (= --strategy skip_flush).")] = False,
    meta_only: Annotated[bool, typer.Option("--meta_only", help="Schema and indexes only, no data.")] = False,
    filter_: Annotated[str, typer.Option("--filter", help="coll, db.coll, db.* or db. (comma list).")] = "",
    strategy: Annotated[
        str,
        typer.Option("--strategy", help="serial_flush (default on Milvus 2.3), skip_flush, meta_only or bulk_flush."),
    ] = "",
    rbac: Annotated[bool, typer.Option("--rbac", help="Also back up users, roles and grants.")] = False,
    no_proof: Annotated[
        bool,
        typer.Option("--no-proof", help="Skip the row-count proof (the backup's live rows against count(*))."),
    ] = False,
    incremental: Annotated[
        bool, typer.Option("--incremental", help="Reference the segments the base holds unchanged; copy the rest.")
    ] = False,
    base: Annotated[
        str, typer.Option("--base", help="Base of --incremental (default: newest backup of the same collections).")
    ] = "",
    accept_unflushed_deletes: Annotated[
        bool,
        typer.Option(
            "--accept-unflushed-deletes",
            help="Milvus 2.2: copy without waiting for the deletes Milvus still holds in memory (recorded in the "
            "backup; recently deleted rows may come back on restore).",
        ),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    timeout: runs.Timeout = None,
    strict: runs.Strict = False,
) -> None:
    """Back up collections: flush, copy their binlogs to backup storage, write the meta last."""
    from milvus_backup import library, wiring
    from milvus_backup.cli.progress import progress_for_stderr
    from milvus_backup.service.create import CreateRequest, strategy_from_flags
    from milvus_backup.service.names import validate_backup_name
    from milvus_backup.service.selection import parse_selection

    if name is not None:  # given, even as -n "": a name that is checked, never one made up
        validate_backup_name(name)
    request = CreateRequest(
        name=name or "",
        selection=parse_selection(colls, databases, database_collections, filter_),
        strategy=strategy_from_flags(strategy, force, meta_only),
        rbac=rbac,
        proof=not no_proof,
        incremental=incremental,
        base=base,
        accept_unflushed_deletes=accept_unflushed_deletes,
    )
    config = ctx.obj.load().config
    with wiring.new_run(
        config, progress=progress_for_stderr(), timeout=timeout, what=f"backup {name or '(unnamed)'}"
    ) as run:
        result = library.create_backup(config, request, run)
    if json_output:
        render.print_json(dataclasses.asdict(result))
    else:
        runs.print_warnings(result.warnings)
        copied = result.bytes - result.referenced_bytes
        rate = copied / 1e6 / result.seconds if result.seconds else 0.0
        for collection, proof in result.proofs.items():
            render.print_line(f"{collection}: row count {proof.brief()}")
        render.print_line(
            f"create backup success: {result.name}: {result.collections} collection(s), {result.segments} "
            f"segment(s), {result.objects} object(s), {result.bytes / 1e6:.1f} MB in {result.seconds:.1f} s "
            f"({rate:.1f} MB/s){_referenced(result)}{runs.counted(result.warnings)}"
        )
    runs.enforce_strict(strict, result.warnings)


def _referenced(result: CreateResult) -> str:
    if not result.base:
        return ""
    return (
        f"; of the {result.bytes / 1e6:.1f} MB, {result.referenced_bytes / 1e6:.1f} MB in "
        f"{result.referenced_objects} more object(s) referenced in backup {result.base} and its bases, not copied"
    )
