"""How long-running work reports progress: the service calls these; the CLI draws a bar, REST stores it."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, total: int, unit: str, label: str) -> None: ...

    def advance(self, amount: int) -> None: ...

    def finish(self) -> None: ...


class NullProgress:
    def start(self, total: int, unit: str, label: str) -> None:
        pass

    def advance(self, amount: int) -> None:
        pass

    def finish(self) -> None:
        pass
