"""`milvus-backup check`."""

from __future__ import annotations

from typing import Annotated

import typer

from milvus_backup.cli import render

EPILOG = """[b]Examples[/b]

  milvus-backup check

  milvus-backup check --config /etc/milvus-backup/backup.yaml

  milvus-backup check --set milvus.grpc.port=19531 --json

[b]Exit status[/b]: 0 all good; 3 invalid configuration; 22 storage refused the credentials; 23 bucket missing;
26 the probe copy failed; 31 Milvus unreachable; 32 Milvus refused the credentials; 36 the Milvus storage root
is empty. Codes 20-29 are storage, 30-39 Milvus; see docs/exit-codes.md.
"""


def check(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check that Milvus and both storages are reachable and that a backup copy works."""
    # Imported here so that `--help` does not pay for loading pymilvus and the storage SDKs.
    from milvus_backup import library
    from milvus_backup.service.check import CheckStep

    loaded = ctx.obj.load()
    steps: list[CheckStep] = []

    def on_step(step: CheckStep) -> None:
        steps.append(step)
        if not json_output:
            mark = "[green]ok[/green]  " if step.ok else "[red]FAIL[/red]"
            render.stdout.print(f"{mark} {step.name}: {step.detail}", highlight=False)

    try:
        report = library.check(loaded.config, on_step)
    finally:
        if json_output:
            render.print_json(
                {"steps": [step.__dict__ for step in steps], "ok": bool(steps) and all(step.ok for step in steps)}
            )
    if not json_output:
        render.print_line(f"Milvus version: {report.milvus_version}")
        render.print_line("Success! Backups can be made with this configuration.")
