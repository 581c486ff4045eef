"""A Rich progress bar on stderr, only when stderr is a terminal (scripts and logs get none)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from milvus_backup.progress import NullProgress
from milvus_backup.progress import Progress as ProgressProtocol


class RichProgress:
    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._total = 0

    def start(self, total: int, unit: str, label: str, parts: dict[str, int] | None = None) -> None:
        counts: list[ProgressColumn] = (
            [DownloadColumn(), TransferSpeedColumn()] if unit == "bytes" else [MofNCompleteColumn(), TextColumn(unit)]
        )
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            *counts,
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(label, total=total)
        self._total = total

    def grow(self, amount: int, part: str = "") -> None:
        if self._bar is not None and self._task is not None:
            self._total += amount
            self._bar.update(self._task, total=self._total)

    def advance(self, amount: int, part: str = "") -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, amount)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        self._bar, self._task = None, None


def progress_for_stderr() -> ProgressProtocol:
    return RichProgress() if sys.stderr.isatty() else NullProgress()
