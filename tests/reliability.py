"""The reliability figures: every fault, kill and bad-input case reports here, and the session prints the totals.

A test reports one case with the ``reliability_record`` fixture (tests/conftest.py)::

    def test_empty_name(reliability_record):
        result = run_cli(["create", "-n", ""])
        ok = result.returncode == EXIT_USAGE and "name" in result.stderr
        reliability_record("bad_input", "create -n ''", ok)
        assert ok, result.stderr

or wraps the case, so that an exception counts as a failed case too::

    with reliability_record.case("kill", "create killed at flush"):
        ...

``count`` says how many events one case stands for (the faults a proxy injected during one run). The summary
line of a category reads "<title> — survived / tried": a case that records ``ok=False`` adds its count to
"tried" only. docs/reliability.md lists the cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

#: Category -> its line in the summary.
CATEGORIES = {
    "kill": "kills survived / tried",
    "fault": "faults survived / injected",
    "bad_input": "bad inputs with a clear error / tried",
}


@dataclass(frozen=True)
class Outcome:
    category: str
    case: str
    ok: bool
    count: int = 1


@dataclass
class ReliabilityLog:
    """The cases reported in this session, in order."""

    outcomes: list[Outcome] = field(default_factory=list)

    def __call__(self, category: str, case: str, ok: bool, *, count: int = 1) -> bool:
        """Record one case; return ``ok`` so a test can ``assert reliability_record(...)``."""
        if category not in CATEGORIES:
            raise ValueError(f"unknown reliability category {category!r}; one of {sorted(CATEGORIES)}")
        if count < 0:
            raise ValueError("count must not be negative")
        self.outcomes.append(Outcome(category, case, bool(ok), count))
        return bool(ok)

    @contextmanager
    def case(self, category: str, case: str, *, count: int = 1) -> Iterator[None]:
        """Record ``case`` as survived when the block ends normally, as failed when it raises."""
        try:
            yield
        except BaseException:
            self(category, case, False, count=count)
            raise
        self(category, case, True, count=count)

    def figures(self) -> dict[str, tuple[int, int]]:
        """Category -> (survived, tried), for the categories that have cases."""
        totals: dict[str, tuple[int, int]] = {}
        for outcome in self.outcomes:
            survived, tried = totals.get(outcome.category, (0, 0))
            totals[outcome.category] = (survived + (outcome.count if outcome.ok else 0), tried + outcome.count)
        return totals

    def summary_lines(self) -> list[str]:
        figures = self.figures()
        lines = [
            f"{CATEGORIES[category]:<40} {figures[category][0]} / {figures[category][1]}"
            for category in CATEGORIES
            if category in figures
        ]
        lines += [f"  failed: {o.category}: {o.case}" for o in self.outcomes if not o.ok]
        return lines


#: The session's log (one pytest process, no worker processes).
LOG = ReliabilityLog()
