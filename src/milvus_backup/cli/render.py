"""Results on stdout: a Rich table for people, `--json` for scripts. Logs and progress stay on stderr."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

stdout = Console(soft_wrap=True)


def print_json(data: Any) -> None:
    stdout.out(json.dumps(data, indent=2, ensure_ascii=False), highlight=False)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None) -> None:
    table = Table(title=title, show_lines=False)
    for header in headers:
        # A narrow terminal folds a long value onto more lines rather than cut it short.
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*row)
    stdout.print(table)


def print_line(text: str) -> None:
    stdout.out(text, highlight=False)


def print_raw(text: str) -> None:
    """One line exactly as given (tabs kept, no markup, no wrapping): output for scripts."""
    stdout.file.write(text + "\n")
