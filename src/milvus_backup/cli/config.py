"""`milvus-backup config show`."""

from __future__ import annotations

from typing import Annotated

import typer

from milvus_backup.cli import render
from milvus_backup.cli.commands import Command, Group
from milvus_backup.config import effective_rows

app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True, cls=Group)

SHOW_EPILOG = """[b]Examples[/b]

  milvus-backup config show

  milvus-backup config show --config backup.yaml --set MILVUS_ADDRESS=10.0.0.5 --json

Secrets are always masked.
"""


@app.command("show", epilog=SHOW_EPILOG, cls=Command)
def show(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print the values as JSON.")] = False,
) -> None:
    """Print every effective config value and where it comes from (default, config, env, override)."""
    loaded = ctx.obj.load()
    rows = effective_rows(loaded)
    if json_output:
        render.print_json(
            {
                "file": str(loaded.path) if loaded.path else None,
                "schema": loaded.schema,
                "values": [{"key": k, "value": v, "source": s, "sourceKey": sk} for k, v, s, sk in rows],
            }
        )
        return
    title = f"{loaded.path or 'no config file'} (schema {loaded.schema})"
    shown = [
        (key, ",".join(map(str, value)) if isinstance(value, list) else str(value), kind, source)
        for key, value, kind, source in rows
    ]
    render.print_table(["key", "value", "source", "source key"], shown, title=title)
