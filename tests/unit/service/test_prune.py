"""Retention (restic's forget rules) and prune on MemoryStorage: what is kept, why, and what is never removed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bench.prune_year import nightly_year, write_meta_only_backup
from milvus_backup.errors import UsageError
from milvus_backup.meta import layout
from milvus_backup.service import prune as prune_module
from milvus_backup.service.catalog import list_backups
from milvus_backup.service.claim import claimed
from milvus_backup.service.prune import PruneRequest, collection_names, prune_backups
from milvus_backup.service.resources import StorageLocation
from milvus_backup.service.retention import UNLIMITED, Dated, RetentionPolicy, apply_policy
from tests.fakes.memory_storage import MemoryStorage

UTC = timezone.utc
END = datetime(2026, 3, 31, 23, 0, tzinfo=UTC)  # a Tuesday


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def kept(decisions) -> dict[str, list[str]]:
    return {d.name: d.reasons for d in decisions if d.keep}


def test_keep_last_keeps_the_newest_n():
    backups = [Dated(f"b{i}", END - timedelta(hours=i)) for i in range(5)]
    assert kept(apply_policy(backups, RetentionPolicy(keep_last=2))) == {"b0": ["last"], "b1": ["last"]}


def test_daily_keeps_the_newest_of_each_day_and_counts_days_that_have_one():
    backups = [
        Dated("mon_late", at(2026, 3, 30, 22)),
        Dated("mon_early", at(2026, 3, 30, 1)),
        Dated("sat", at(2026, 3, 28, 12)),  # no backup on Sunday: the second day with one is Saturday
        Dated("fri", at(2026, 3, 27, 12)),
    ]
    assert kept(apply_policy(backups, RetentionPolicy(keep_daily=2))) == {"mon_late": ["daily"], "sat": ["daily"]}


def test_a_backup_kept_by_several_policies_is_kept_once_with_every_reason():
    backups = [Dated("new", at(2026, 3, 30, 2)), Dated("sun", at(2026, 3, 29, 2)), Dated("old", at(2026, 2, 1, 2))]
    decisions = apply_policy(backups, RetentionPolicy(keep_last=1, keep_daily=1, keep_weekly=2, keep_monthly=2))
    assert [d.name for d in decisions] == ["new", "sun", "old"]
    # ISO weeks: Monday 30 March starts week 14, Sunday 29 March ends week 13.
    assert kept(decisions) == {
        "new": ["last", "daily", "weekly", "monthly"],
        "sun": ["weekly"],
        "old": ["monthly"],
    }


def test_a_short_history_keeps_its_oldest_backup_and_unlimited_keeps_every_bucket():
    backups = [Dated(f"d{i}", END - timedelta(days=i)) for i in range(3)]
    assert kept(apply_policy(backups, RetentionPolicy(keep_monthly=6))) == {"d0": ["monthly"], "d2": ["oldest monthly"]}
    assert set(kept(apply_policy(backups, RetentionPolicy(keep_daily=UNLIMITED)))) == {"d0", "d1", "d2"}


def test_a_policy_needs_a_count_and_refuses_negative_ones():
    with pytest.raises(UsageError, match="no retention policy"):
        RetentionPolicy().validate()
    with pytest.raises(UsageError, match="--keep-daily -2"):
        RetentionPolicy(keep_daily=-2).validate(lambda name: "--" + name.replace("_", "-"))


@pytest.fixture
def target() -> StorageLocation:
    return StorageLocation(MemoryStorage("backups"), "backup/")


def names(target: StorageLocation) -> set[str]:
    return {s.name for s in list_backups(target)}


def test_prune_removes_what_the_policy_does_not_keep_and_dry_run_removes_nothing(target):
    nightly_year(target, 30, END)
    request = PruneRequest(RetentionPolicy(keep_daily=7, keep_weekly=4))
    dry = prune_backups(target, PruneRequest(request.policy, dry_run=True))
    assert len(names(target)) == 30 and dry.dry_run
    result = prune_backups(target, request)
    assert [b.name for b in result.removed] == [b.name for b in dry.removed] and not result.warnings
    assert names(target) == {b.name for b in result.kept} and len(result.kept) + len(result.removed) == 30
    # 7 days (Tuesday 31 March back to Wednesday 25), and 4 ISO weeks: the newest backup of the two newest ones
    # (31 and 29 March) is a kept day already, the two others are Sundays 22 and 15 March.
    weekly = {b.name for b in result.kept if "weekly" in b.reasons}
    assert weekly == {f"nightly_202603{day}_230000" for day in (31, 29, 22, 15)} and len(result.kept) == 7 + 2
    assert result.kept[0].reasons == ["daily", "weekly"] and result.kept[0].created.startswith("2026-03-31")


def test_prune_selects_by_prefix_and_by_exact_collections(target):
    write_meta_only_backup(target, "nightly_a", END - timedelta(days=1), ("db1.c1", "db1.c2"))
    write_meta_only_backup(target, "nightly_b", END, ("db1.c1", "db1.c2"))
    write_meta_only_backup(target, "nightly_c", END - timedelta(days=2), ("db1.c1",))
    write_meta_only_backup(target, "manual", END - timedelta(days=3), ("db1.c1", "db1.c2"))
    result = prune_backups(target, PruneRequest(RetentionPolicy(keep_last=1), prefix="nightly_"))
    assert [b.name for b in result.removed] == ["nightly_a", "nightly_c"] and "manual" in names(target)
    result = prune_backups(
        target, PruneRequest(RetentionPolicy(keep_last=1), collections=collection_names(["db1.c1", "db1.c2"]))
    )
    assert [b.name for b in result.removed] == ["manual"] and names(target) == {"nightly_b"}
    assert collection_names(["coll", "db.c"]) == {"default.coll", "db.c"}


def test_prune_never_removes_a_backup_being_created_or_one_a_kept_backup_references(target, monkeypatch):
    nightly_year(target, 3, END)
    with claimed(target, "being_made"):
        target.storage.put(layout.backup_dir(target.root, "being_made") + "binlogs/x", b"x")
        newest, middle, oldest = sorted(names(target) - {"being_made"}, reverse=True)
        # An incremental newest backup reads its files from the oldest, which reads from the middle one.
        references = {newest: oldest, oldest: middle}

        def referenced(_target, kept_names):
            found: dict[str, list[str]] = {}
            for name in kept_names:
                if name in references:
                    found.setdefault(references[name], []).append(name)
            return found

        monkeypatch.setattr(prune_module, "referenced_by_kept", referenced)
        result = prune_backups(target, PruneRequest(RetentionPolicy(keep_last=1)))
        reasons = {b.name: b.reasons for b in result.kept}
        assert reasons[newest] == ["last"]
        assert reasons[oldest] == [f"referenced by {newest}"] and reasons[middle] == [f"referenced by {oldest}"]
        assert reasons["being_made"][0].startswith("incomplete: being created")
        assert result.removed == [] and "being_made" in names(target)
