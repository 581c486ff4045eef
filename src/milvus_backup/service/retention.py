"""Which backups a retention policy keeps: restic's `forget` rules, applied to backups instead of snapshots.

The backups are taken newest first. `keep_last` keeps the first N. Each time policy (hourly, daily, weekly,
monthly, yearly) puts every backup in a bucket (its hour, day, ISO week, month or year) and keeps the newest
backup of each of the N newest buckets that hold one. A backup kept by several policies is kept once, with every
reason. As restic does since 0.17, a time policy that finds fewer buckets than it may keep also keeps the oldest
backup ("oldest daily"), so a short history is not thinned to nothing. -1 means unlimited.

Buckets are in UTC: a backup records its time as a Milvus hybrid timestamp, which carries no time zone (restic
uses the zone the snapshot recorded).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime

from milvus_backup.errors import UsageError

UNLIMITED = -1


@dataclass(frozen=True)
class RetentionPolicy:
    keep_last: int = 0
    keep_hourly: int = 0
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0
    keep_yearly: int = 0

    @property
    def empty(self) -> bool:
        return all(getattr(self, f.name) == 0 for f in fields(self))

    def validate(self, label: Callable[[str], str] = str) -> None:
        """Each count is >= 0 or -1 (unlimited); at least one is set. `label` names a field as the door does."""
        for f in fields(self):
            value = getattr(self, f.name)
            if value < UNLIMITED:
                raise UsageError(detail=f"{label(f.name)} {value}: give a count >= 0, or -1 for unlimited")
        if self.empty:
            raise UsageError(
                detail="no retention policy given: prune would remove every backup",
                hint=f"Give at least one of {', '.join(label(f.name) for f in fields(self))}.",
            )


@dataclass(frozen=True)
class Dated:
    """A backup as the policy sees it: its name and when it was made (UTC)."""

    name: str
    time: datetime


@dataclass(frozen=True)
class Decision:
    name: str
    time: datetime
    #: Why it is kept ("last", "daily", "oldest weekly"...); empty when the policy removes it.
    reasons: list[str] = field(default_factory=list)

    @property
    def keep(self) -> bool:
        return bool(self.reasons)


def _hour(t: datetime) -> tuple[int, ...]:
    return (t.year, t.month, t.day, t.hour)


def _day(t: datetime) -> tuple[int, ...]:
    return (t.year, t.month, t.day)


def _week(t: datetime) -> tuple[int, ...]:
    year, week, _ = t.isocalendar()
    return (year, week)


def _month(t: datetime) -> tuple[int, ...]:
    return (t.year, t.month)


def _year(t: datetime) -> tuple[int, ...]:
    return (t.year,)


#: The time policies: reason, policy field, bucket of a time.
_BUCKETS: tuple[tuple[str, str, Callable[[datetime], tuple[int, ...]]], ...] = (
    ("hourly", "keep_hourly", _hour),
    ("daily", "keep_daily", _day),
    ("weekly", "keep_weekly", _week),
    ("monthly", "keep_monthly", _month),
    ("yearly", "keep_yearly", _year),
)


def apply_policy(backups: Sequence[Dated], policy: RetentionPolicy) -> list[Decision]:
    """One decision per backup, newest first (ties in time broken by name, newest name first)."""
    ordered = sorted(backups, key=lambda b: (b.time, b.name), reverse=True)
    reasons: list[list[str]] = [[] for _ in ordered]
    last = policy.keep_last
    for i in range(len(ordered)):
        if last == UNLIMITED or i < last:
            reasons[i].append("last")
    for reason, attribute, bucket_of in _BUCKETS:
        left = getattr(policy, attribute)
        if left == 0:
            continue
        previous: tuple[int, ...] | None = None
        for i, backup in enumerate(ordered):
            bucket = bucket_of(backup.time)
            if bucket != previous and left != 0:
                reasons[i].append(reason)
                previous = bucket
                left -= 0 if left == UNLIMITED else 1
        if left > 0 and ordered and reason not in reasons[-1]:
            reasons[-1].append(f"oldest {reason}")
    return [Decision(b.name, b.time, r) for b, r in zip(ordered, reasons, strict=True)]
