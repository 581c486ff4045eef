"""Backup names: upstream's rules, checked before anything is written."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

from milvus_backup.errors import UsageError

MAX_NAME_LENGTH = 128
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def validate_backup_name(name: str) -> str:
    if not name:
        raise UsageError(
            detail="the backup name is empty",
            hint="Give the name of a backup; only create makes one up, when its name is left out.",
        )
    if len(name) > MAX_NAME_LENGTH:
        raise UsageError(detail=f"backup name is {len(name)} characters long; at most {MAX_NAME_LENGTH} are allowed")
    if not _NAME.fullmatch(name):
        raise UsageError(
            detail=f"invalid backup name {name!r}",
            hint="A backup name starts with a letter or '_' and holds only letters, digits and '_'.",
        )
    return name


def default_backup_name(now: float | None = None) -> str:
    """`backup_YYYY_MM_DD_HH_MM_SS_<nanos>` in UTC, as upstream names backups."""
    ns = time.time_ns() if now is None else int(now * 1e9)
    stamp = datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).strftime("%Y_%m_%d_%H_%M_%S")
    return f"backup_{stamp}_{ns % 1_000_000_000}"
