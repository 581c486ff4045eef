"""How long-running work reports progress: the service calls these; the CLI draws a bar, REST stores it."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """`parts` splits the total by collection (name -> its share), and `advance(n, part)` says whose share moved,
    so a job can show each collection's progress while it runs. `grow(n, part)` adds work found after `start`
    (a backup's copies start while its listing is still being read)."""

    def start(self, total: int, unit: str, label: str, parts: dict[str, int] | None = None) -> None: ...

    def grow(self, amount: int, part: str = "") -> None: ...

    def advance(self, amount: int, part: str = "") -> None: ...

    def finish(self) -> None: ...


class NullProgress:
    def start(self, total: int, unit: str, label: str, parts: dict[str, int] | None = None) -> None:
        pass

    def grow(self, amount: int, part: str = "") -> None:
        pass

    def advance(self, amount: int, part: str = "") -> None:
        pass

    def finish(self) -> None:
        pass
