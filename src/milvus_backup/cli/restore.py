"""`milvus-backup restore`."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from milvus_backup.cli import render, runs

EPILOG = """[b]Examples[/b]

  milvus-backup restore -n my_backup -c coll -s _bak

  milvus-backup restore -n my_backup -r db1.c1:db2.c1_new --restore_index --load

  milvus-backup restore -n nightly -a '{"db1":[]}' --drop_exist_collection --restore_index --use_auto_index

-c, -d and -a choose by the names in the backup; --filter by the names after --suffix/--rename. Indexes are
only rebuilt with --restore_index (alias --rebuild_index): without them a restored collection cannot be loaded.

[b]Exit status[/b]: 0 success; 2 bad or contradicting flags; 10 no such backup; 12 the backup is incomplete;
13 Milvus imported fewer rows than the backup holds; 14 the backup needs a newer Milvus; 31/32 Milvus unreachable
or refused; 35 a target collection exists (nothing was changed). Codes 10-19 are backups, 20-29 storage, 30-39
Milvus; see docs/exit-codes.md.
"""


def restore(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("-n", "--name", help="Backup to restore.")],
    collections: Annotated[
        str, typer.Option("-c", "--collections", help="Backed-up collections: coll or db.coll, comma list.")
    ] = "",
    suffix: Annotated[str, typer.Option("-s", "--suffix", help="Append to every restored collection's name.")] = "",
    rename: Annotated[
        str, typer.Option("-r", "--rename", help="db1.c1:db2.c2, c1:c2 or db1.*:db2.* (comma list).")
    ] = "",
    databases: Annotated[str, typer.Option("-d", "--databases", help="Backed-up databases, comma list.")] = "",
    database_collections: Annotated[
        str,
        typer.Option("-a", "--database_collections", help='JSON {"db1":["c1"],"db2":[]}; [] means the whole database.'),
    ] = "",
    filter_: Annotated[
        str, typer.Option("--filter", help="Target names after suffix/rename: coll, db.coll, db.*")
    ] = "",
    meta_only: Annotated[
        bool, typer.Option("--meta_only", help="Create collections, partitions (and indexes), no data.")
    ] = False,
    restore_index: Annotated[
        bool, typer.Option("--restore_index", "--rebuild_index", help="Rebuild the backed-up indexes.")
    ] = False,
    use_auto_index: Annotated[
        bool,
        typer.Option(
            "--use_auto_index", help="With --restore_index: vector indexes become AUTOINDEX with the original metric."
        ),
    ] = False,
    drop_exist_collection: Annotated[
        bool, typer.Option("--drop_exist_collection", help="Drop a target collection that exists.")
    ] = False,
    drop_exist_index: Annotated[
        bool, typer.Option("--drop_exist_index", help="Drop the target's indexes first.")
    ] = False,
    skip_create_collection: Annotated[
        bool, typer.Option("--skip_create_collection", help="Restore data into existing collections.")
    ] = False,
    rbac: Annotated[
        bool, typer.Option("--rbac", help="Restore roles, grants and role bindings the target lacks.")
    ] = False,
    load: Annotated[bool, typer.Option("--load", help="Load the restored collections and wait.")] = False,
    skip_aliases: Annotated[bool, typer.Option("--skip_aliases", help="Do not recreate the aliases.")] = False,
    skip_db_properties: Annotated[
        bool, typer.Option("--skip_db_properties", help="Create missing databases without the backed-up properties.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    no_verify: Annotated[
        bool,
        typer.Option("--no-verify", help="Check the files' sizes before the import, not their checksums."),
    ] = False,
    keep_partial: Annotated[
        bool,
        typer.Option(
            "--keep-partial", help="After a failure, keep the collections restored so far (they are marked incomplete)."
        ),
    ] = False,
    timeout: runs.Timeout = None,
    strict: runs.Strict = False,
) -> None:
    """Restore collections from a backup into Milvus."""
    from milvus_backup import library, wiring
    from milvus_backup.cli.progress import progress_for_stderr
    from milvus_backup.service.mapping import parse_mapping, split_renames
    from milvus_backup.service.restore import RestoreRequest
    from milvus_backup.service.selection import parse_filter, parse_selection

    request = RestoreRequest(
        name=name,
        selection=parse_selection(collections, databases, database_collections),
        target_filter=parse_filter(filter_) if filter_ else None,
        mapping=parse_mapping(suffix, split_renames(rename, "--rename")),
        meta_only=meta_only,
        restore_index=restore_index,
        use_auto_index=use_auto_index,
        drop_exist_collection=drop_exist_collection,
        drop_exist_index=drop_exist_index,
        skip_create_collection=skip_create_collection,
        rbac=rbac,
        load=load,
        skip_aliases=skip_aliases,
        skip_db_properties=skip_db_properties,
        verify=not no_verify,
        keep_partial=keep_partial,
    )
    config = ctx.obj.load().config
    with wiring.new_run(config, progress=progress_for_stderr(), timeout=timeout, what=f"restore of {name}") as run:
        result = library.restore_backup(config, request, run)
    if json_output:
        render.print_json(dataclasses.asdict(result))
    else:
        runs.print_warnings(result.warnings)
        for coll in result.collections:
            imported = f" (imported by Milvus in {coll.import_seconds:.1f} s)" if coll.segments else ""
            render.print_line(
                f"{coll.source} -> {coll.target}: {coll.rows} row(s) from {coll.segments} segment(s)"
                f"{imported}, {coll.indexes} index(es), aliases: {', '.join(coll.aliases) or '-'}"
            )
        render.print_line(
            f"restore backup success: {result.name}: {len(result.collections)} collection(s) in "
            f"{result.seconds:.1f} s{runs.counted(result.warnings)}"
        )
    runs.enforce_strict(strict, result.warnings)
