"""`milvus-backup prune`."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from milvus_backup.cli import render, runs

EPILOG = """[b]Examples[/b]

  milvus-backup prune --keep-daily 7 --keep-weekly 4 --dry-run

  milvus-backup prune --prefix nightly_ --keep-last 3 --keep-monthly 12

  milvus-backup prune -c db1.c1,db1.c2 --keep-hourly 24 --json

restic's forget rules: --keep-last keeps the N newest backups; --keep-hourly/daily/weekly/monthly/yearly keep the
newest backup of each of the N newest hours/days/ISO weeks/months/years (UTC) that have one; -1 is unlimited.
A backup kept by several rules is kept once. A backup a kept one references, and an incomplete backup (being
created, or cut off), are never removed. -c takes the backups of exactly those collections; --prefix those whose
name starts so. See docs/retention.md.

[b]Exit status[/b]: 0 success; 2 no --keep-* option, or a bad one; 4 --strict and a backup could not be removed;
2x storage errors.
"""


def _count(flag: str, meaning: str) -> object:
    return typer.Option(flag, min=-1, help=f"Keep {meaning} (-1: unlimited).")


def prune(
    ctx: typer.Context,
    keep_last: Annotated[int, _count("--keep-last", "the N newest backups")] = 0,
    keep_hourly: Annotated[int, _count("--keep-hourly", "the newest backup of each of the N newest hours")] = 0,
    keep_daily: Annotated[int, _count("--keep-daily", "the newest backup of each of the N newest days")] = 0,
    keep_weekly: Annotated[int, _count("--keep-weekly", "the newest backup of each of the N newest ISO weeks")] = 0,
    keep_monthly: Annotated[int, _count("--keep-monthly", "the newest backup of each of the N newest months")] = 0,
    keep_yearly: Annotated[int, _count("--keep-yearly", "the newest backup of each of the N newest years")] = 0,
    colls: Annotated[
        str,
        typer.Option("-c", "--colls", help="Only backups of exactly these collections: coll or db.coll, comma list."),
    ] = "",
    prefix: Annotated[str, typer.Option("--prefix", help="Only backups whose name starts with this.")] = "",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    strict: runs.Strict = False,
) -> None:
    """Remove the backups a retention policy does not keep, and say why each other one stays."""
    from milvus_backup import library
    from milvus_backup.service.prune import PruneRequest, collection_names
    from milvus_backup.service.retention import RetentionPolicy

    policy = RetentionPolicy(keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly)
    policy.validate(lambda name: "--" + name.replace("_", "-"))
    names = [part.strip() for part in colls.split(",") if part.strip()]
    request = PruneRequest(policy, prefix=prefix, collections=collection_names(names), dry_run=dry_run)
    result = library.prune_backups(ctx.obj.load().config, request)
    if json_output:
        render.print_json(dataclasses.asdict(result))
    else:
        for backup in result.kept:
            render.print_line(f"keep    {backup.name}  {backup.created}  ({', '.join(backup.reasons)})")
        verb = "would remove" if result.dry_run else "removed"
        for backup in result.removed:
            render.print_line(f"{verb}  {backup.name}  {backup.created}")
        runs.print_warnings(result.warnings)
        render.print_line(
            f"prune {'dry run' if result.dry_run else 'success'}: {len(result.kept)} kept, {len(result.removed)} "
            f"{'to remove' if result.dry_run else 'removed'}{runs.counted(result.warnings)}"
        )
    runs.enforce_strict(strict, result.warnings)
