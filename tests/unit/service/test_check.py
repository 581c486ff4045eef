"""`check` on fakes: the Milvus storage is compared with what Milvus reports, GC is paused and resumed once."""

from __future__ import annotations

import pytest

from milvus_backup.errors import MilvusRootMismatchError, SourceDataError
from milvus_backup.milvus.protocol import GcUnsupported
from milvus_backup.service.check import CheckStep, gc_pause_key, run_check
from milvus_backup.service.resources import MilvusSide, Resources, Settings, StorageLocation
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import FakeMilvus
from tests.unit.service.conftest import BACKUP_ROOT


class Gc:
    """A GC control that works, or fails to pause with `error`."""

    name = "fake GC control"

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[str] = []

    def pause(self, seconds: int) -> None:
        self.calls.append(f"pause {seconds}")
        if self.error is not None:
            raise self.error

    def resume(self) -> None:
        self.calls.append("resume")


def resources_for(
    source: FakeMilvus, backup_storage: MemoryStorage, root: str | None = None, gc: list | None = None, **settings
) -> Resources:
    """The service's resources with the Milvus storage root configured as `root` (default: Milvus's own)."""
    side = source.side(gc if gc is not None else [Gc()])
    if root is not None:
        side = MilvusSide(source, StorageLocation(source.storage, root), gc_controls=side.gc_controls)
    return Resources(StorageLocation(backup_storage, BACKUP_ROOT), Settings(**settings), side)


def steps_of(resources: Resources) -> tuple[list[CheckStep], BaseException | None]:
    seen: list[CheckStep] = []
    try:
        run_check(resources, seen.append, gc_pause_seconds=3)
    except Exception as exc:  # noqa: BLE001 - the test looks at it
        return seen, exc
    return seen, None


def test_the_right_root_passes_naming_what_it_compared(source, backup_storage):
    gc = Gc()
    report = run_check(resources_for(source, backup_storage, gc=[gc]), gc_pause_seconds=3)
    by_name = {step.name: step for step in report.steps}
    assert list(by_name) == ["milvus", "milvus storage", "backup storage", "copy", "gc pause"]
    assert all(step.ok and not step.warning for step in report.steps) and report.warnings == []
    assert "holds the insert logs of the 4 flushed segment(s) Milvus reports for db2.movies, default.books" in (
        by_name["milvus storage"].detail
    )
    assert gc.calls == ["pause 3", "resume"]
    assert "paused for 3 s and resumed through the fake GC control" in by_name["gc pause"].detail
    assert not [k for k in backup_storage.keys() + source.storage.keys() if "milvus_backup_check_" in k]


def test_a_parent_root_fails_after_the_other_steps_naming_the_real_one(source, backup_storage):
    steps, error = steps_of(resources_for(source, backup_storage, root=""))
    assert isinstance(error, MilvusRootMismatchError) and error.exit_code == 38
    assert "found Milvus's files under mem://milvus-bucket/files/: set rootPath" in error.hint
    assert error.hint.endswith("to files")
    assert "db2.movies has 1 flushed segment(s), and none of them is there" in str(error)
    assert [(s.name, s.ok) for s in steps] == [
        ("milvus", True),
        ("milvus storage", False),
        ("backup storage", True),
        ("copy", True),
        ("gc pause", True),
    ]


@pytest.mark.parametrize("root", ["other/", "files/insert_log/", "a/b/"])
def test_a_sibling_or_child_root_fails_naming_the_real_one_when_it_is_nearby(source, backup_storage, root):
    source.storage.put("other/unrelated", b"x")
    _, error = steps_of(resources_for(source, backup_storage, root=root))
    assert isinstance(error, MilvusRootMismatchError)
    if root == "a/b/":  # neither below, beside nor above: the hint says where the files must be
        assert "found" not in error.hint
        assert "Milvus keeps its files under <root>/insert_log/" in error.hint
        assert "minio.rootPath" in error.hint
    else:
        assert error.hint.endswith("set rootPath (v2: milvus.storage.rootPath) to files")


def test_a_root_holding_only_some_segments_is_source_data_error(source, backup_storage):
    seg = source.persistent_segments("default", "books")[0]
    for info in list(source.storage.list("files/insert_log/")):
        if f"/{seg.segment_id}/" in info.key:
            source.storage.delete(info.key)
    _, error = steps_of(resources_for(source, backup_storage))
    assert isinstance(error, SourceDataError) and error.exit_code == 37
    assert f"segment {seg.segment_id}: nothing under files/insert_log/" in str(error)


def test_an_empty_milvus_passes_with_a_note(milvus_storage, backup_storage):
    fresh = FakeMilvus(milvus_storage)
    fresh.add_collection("default", "new_and_empty")  # a collection, no data flushed yet
    report = run_check(resources_for(fresh, backup_storage), gc_pause_seconds=3)
    detail = {s.name: s.detail for s in report.steps}["milvus storage"]
    assert "holds nothing yet, and nothing is stored yet: no flushed segments in 1 collection(s)" in detail
    assert all(step.ok for step in report.steps)


def test_an_empty_milvus_over_a_root_holding_other_files_passes_uncompared(milvus_storage, backup_storage):
    milvus_storage.put("files/something_else", b"x")
    report = run_check(resources_for(FakeMilvus(milvus_storage), backup_storage), gc_pause_seconds=3)
    detail = {s.name: s.detail for s in report.steps}["milvus storage"]
    assert "not compared with Milvus: no flushed segments in 0 collection(s)" in detail


def test_gc_that_cannot_be_paused_warns_naming_the_key_of_the_version(source, backup_storage):
    unsupported = Gc(GcUnsupported("http://localhost:9091/... answered 404"))
    report = run_check(resources_for(source, backup_storage, gc=[unsupported]), gc_pause_seconds=3)
    step = report.steps[-1]
    assert step.name == "gc pause" and step.ok and step.warning
    assert "set milvus.dataCoord.address" in step.detail and "answered 404" in step.detail
    assert report.warnings == [f"gc pause: {step.detail}"]

    source.version = "v2.4.5"
    report = run_check(resources_for(source, backup_storage, gc=[]), gc_pause_seconds=3)
    assert "set milvus.management.endpoint" in report.warnings[0]
    assert "no GC control configured" in report.warnings[0]


def test_the_first_gc_control_that_works_is_used(source, backup_storage):
    failing, working = Gc(RuntimeError("refused")), Gc()
    report = run_check(resources_for(source, backup_storage, gc=[failing, working]), gc_pause_seconds=3)
    assert report.warnings == [] and working.calls == ["pause 3", "resume"] and failing.calls == ["pause 3"]


def test_gc_pause_is_not_tried_when_backups_do_not_pause_gc(source, backup_storage):
    gc = Gc()
    report = run_check(resources_for(source, backup_storage, gc=[gc], pause_gc=False), gc_pause_seconds=3)
    assert gc.calls == [] and report.warnings == []
    assert "backup.pauseGC is false" in report.steps[-1].detail


def test_gc_pause_key_by_version():
    assert gc_pause_key("v2.3.5-lite").startswith("milvus.dataCoord.address")
    assert gc_pause_key("2.4.0").startswith("milvus.management.endpoint")
    assert gc_pause_key("v2.6.1").startswith("milvus.management.endpoint")
    assert "or milvus.dataCoord.address" in gc_pause_key("unknown")
