"""`milvus-backup check`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from milvus_backup.cli import render, runs

EPILOG = """[b]Examples[/b]

  milvus-backup check

  milvus-backup check --config /etc/milvus-backup/backup.yaml

  milvus-backup check --set milvus.grpc.port=19531 --json

Compares Milvus's storage with what Milvus reports (the insert logs of its flushed segments must lie under the
configured root; a Milvus that stores nothing yet passes), checks the backup storage, copies a probe object from
one to the other and tries a short GC pause, as a backup would. Leaves nothing behind.

[b]Exit status[/b]: 0 all good (warnings, such as a GC pause that cannot be made, are printed); 3 invalid
configuration; 4 warnings with --strict; 22 storage refused the credentials; 23 bucket or directory missing;
26 the probe copy failed; 31 Milvus unreachable; 32 Milvus refused the credentials; 37 the Milvus storage holds
only some of the files Milvus reports; 38 the Milvus storage root does not hold Milvus's files (the hint names
the root when it is found nearby). Codes 20-29 are storage, 30-39 Milvus; see docs/exit-codes.md.
"""


def check(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    strict: runs.Strict = False,
) -> None:
    """Check that Milvus, its storage and the backup storage fit together and that a backup copy works."""
    # Imported here so that `--help` does not pay for loading pymilvus and the storage SDKs.
    from milvus_backup import library
    from milvus_backup.service.check import CheckStep

    loaded = ctx.obj.load()
    steps: list[CheckStep] = []

    def on_step(step: CheckStep) -> None:
        steps.append(step)
        if not json_output:
            mark = (
                "[red]FAIL[/red]" if not step.ok else "[yellow]WARN[/yellow]" if step.warning else "[green]ok[/green]  "
            )
            render.stdout.print(f"{mark} {step.name}: {escape(step.detail)}", highlight=False)

    warnings: list[str] = []
    try:
        report = library.check(loaded.config, on_step)
        warnings = report.warnings
    finally:
        if json_output:
            render.print_json(
                {
                    "steps": [step.__dict__ for step in steps],
                    "warnings": [f"{s.name}: {s.detail}" for s in steps if s.warning],
                    "ok": bool(steps) and all(step.ok for step in steps),
                }
            )
    if not json_output:
        render.print_line(f"Milvus version: {report.milvus_version}")
        counted = f" ({len(warnings)} warning(s) above)" if warnings else ""
        render.print_line(f"Success! Backups can be made with this configuration{counted}.")
    runs.enforce_strict(strict, warnings)
