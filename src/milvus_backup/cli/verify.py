"""`milvus-backup verify`."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from milvus_backup.cli import render, runs
from milvus_backup.errors import IntegrityError

EPILOG = """[b]Examples[/b]

  milvus-backup verify -n my_backup

  milvus-backup verify -n my_backup --quick --json

Re-reads every object and compares its size and checksum (MD5 or CRC32C) with the backup's manifest; --quick
checks existence and size only. A backup made by the Go tool (no manifest) is checked by existence and size.

[b]Exit status[/b]: 0 intact; 10 no such backup; 13 a problem was found (each is listed).
"""


def verify(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("-n", "--name", help="Backup name.")],
    quick: Annotated[bool, typer.Option("--quick", help="Existence and size only, no content read.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    timeout: runs.Timeout = None,
    strict: runs.Strict = False,
) -> None:
    """Check that every object of a backup is intact."""
    from milvus_backup import library, wiring
    from milvus_backup.cli.progress import progress_for_stderr

    config = ctx.obj.load().config
    with wiring.new_run(config, progress=progress_for_stderr(), timeout=timeout, what=f"verify of {name}") as run:
        report = library.verify_backup(config, name, quick, run)
    if json_output:
        render.print_json(
            {
                "name": report.name,
                "mode": report.mode,
                "ok": report.ok,
                "collections": [dataclasses.asdict(c) for c in report.collections],
                "warnings": report.warnings,
                "proofs": {key: dataclasses.asdict(proof) for key, proof in report.proofs.items()},
            }
        )
    else:
        runs.print_warnings(report.warnings)
        for check in report.collections:
            state = "[green]ok[/green]  " if not check.problems else "[red]FAIL[/red]"
            render.stdout.print(
                f"{state} {check.collection}: {check.objects} object(s), "
                f"{check.bytes / 1e6:.1f} MB checked ({report.mode})",
                highlight=False,
            )
            for problem in check.problems:
                render.stdout.print(f"     {problem}", highlight=False, markup=False)
            if check.collection in report.proofs:
                render.stdout.print(
                    f"     row count at create: {report.proofs[check.collection].brief()}",
                    highlight=False,
                    markup=False,
                )
    if not report.ok:
        problems = sum(len(c.problems) for c in report.collections)
        raise IntegrityError(name=name, detail=f"{problems} problem(s) found")
    if not json_output:
        render.print_line(f"verify success: {name} is intact{runs.counted(report.warnings)}")
    runs.enforce_strict(strict, report.warnings)
