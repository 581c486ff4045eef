"""Where Milvus reads a backup's binlogs during a restore.

Milvus imports only from its own storage: on S3, keys of its own bucket; on local storage, absolute paths. So
the backup is read where it lies when Milvus can reach it (a local Milvus and a local backup; one S3 bucket for
both), and otherwise each imported folder is first copied into Milvus's storage under `restore-temp-<id>/`
(outside Milvus's rootPath, where its GC never looks): server-side on one service, streamed across services.

An incremental backup's folder lacks the segments it references, and Milvus imports a whole partition folder: a
partition with referenced segments is always staged, its own files and the referenced ones (from the folders of
the backups holding them) under one folder, as a self-contained backup would hold them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from milvus_backup.errors import BackupToolError
from milvus_backup.meta import layout
from milvus_backup.meta.manifest import ManifestObject
from milvus_backup.meta.model import SegmentBackupInfo
from milvus_backup.progress import NullProgress
from milvus_backup.service.copying import CopyTask, copy_all, unproven_sizes, verify_listing
from milvus_backup.service.resources import Resources, Settings, StorageLocation
from milvus_backup.service.run import Run
from milvus_backup.service.segments import relative_keys

logger = logging.getLogger(__name__)


class Staging:
    def __init__(
        self,
        settings: Settings,
        backup: StorageLocation,
        target: StorageLocation,
        name: str,
        restore_id: str,
        *,
        copy: bool,
        import_path: Callable[[str], str],
        staged_path: Callable[[str], str] | None = None,
        references: dict[str, ManifestObject] | None = None,
    ) -> None:
        self.settings = settings
        self.backup = backup
        self.target = target
        self.name = name
        self.copy = copy
        #: Storage key -> the path Milvus's Import wants (a key of its bucket, or an absolute path): of the
        #: backup's own folder where it is read in place, of Milvus's storage where staged.
        self.import_path = import_path
        self.staged_path = staged_path or import_path
        #: Backup-relative key -> manifest entry, of the objects held by another backup's folder.
        self.references = references or {}
        self.prefix = f"restore-temp-{restore_id}/"
        self.staged_objects = 0
        self._staged_any = False
        self._lock = threading.Lock()

    def import_files(
        self, collection_id: int, partition_id: int, segments: list[SegmentBackupInfo], run: Run, group_id: int = 0
    ) -> list[str]:
        """[insert folder, delta folder or ""] of one partition's import (every group folder below them), or with
        `group_id` of that one group's, staged first if Milvus cannot read the backup."""
        insert_dir, delta_dir = layout.backup_import_dirs(
            self.backup.root, self.name, collection_id, partition_id, group_id=group_id
        )
        referenced = self._referenced(segments)
        if any(s.deltalogs for s in segments):
            return self._staged([insert_dir, delta_dir], referenced, run)
        return [*self._staged([insert_dir], referenced, run), ""]

    def l0_files(self, collection_id: int, segment: SegmentBackupInfo, run: Run) -> list[str]:
        """[delta folder] of one L0 segment's import (partition -1: the whole collection's), staged if needed."""
        delta_dir = layout.backup_segment_delta_dir(
            self.backup.root, self.name, collection_id, segment.partition_id, segment.group_id, segment.segment_id
        )
        return self._staged([delta_dir], self._referenced([segment]), run)

    def _referenced(self, segments: list[SegmentBackupInfo]) -> list[ManifestObject]:
        """The objects of these segments that another backup's folder holds."""
        return [self.references[key] for s in segments for key in relative_keys(s) if key in self.references]

    def _staged(self, prefixes: list[str], referenced: list[ManifestObject], run: Run) -> list[str]:
        """The import paths of backup folders: where they lie, or of their copies in Milvus's storage, with the
        `referenced` objects copied in from the folders holding them."""
        if not self.copy and not referenced:
            return [self.import_path(prefix) for prefix in prefixes]
        with self._lock:
            self._staged_any = True
        backup_dir = layout.backup_dir(self.backup.root, self.name)
        tasks = []
        for prefix in prefixes:
            for info in self.backup.storage.list(prefix):
                tasks.append(CopyTask(info.key, self.prefix + info.key[len(backup_dir) :], info.size, src_md5=info.md5))
        tasks.extend(
            CopyTask(layout.backup_dir(self.backup.root, obj.backup) + obj.key, self.prefix + obj.key, obj.size)
            for obj in referenced
        )
        stats = copy_all(
            self.backup.storage,
            self.target.storage,
            tasks,
            self.settings.transfer_mode,
            self.settings.copy_concurrency,
            NullProgress(),
            run=run,
        )
        staged = [self.prefix + prefix[len(backup_dir) :] for prefix in prefixes]
        verify_listing(self.target.storage, staged, unproven_sizes(tasks, stats), self.name)
        with self._lock:
            self.staged_objects += len(tasks)
        return [self.staged_path(prefix) for prefix in staged]

    def cleanup(self, keep: bool) -> None:
        """Remove the staged copies, on success and on failure alike, unless restore.keepTempFiles."""
        if not self._staged_any:
            return
        if keep:
            logger.info(
                "keeping the staged copies under %s/%s (restore.keepTempFiles)",
                self.target.storage.location,
                self.prefix,
            )
            return
        try:
            removed = self.target.storage.delete_prefix(self.prefix)
            logger.info("removed %d staged object(s) from %s/%s", removed, self.target.storage.location, self.prefix)
        except BackupToolError as exc:
            logger.warning(
                "could not remove the staged copies under %s/%s: %s", self.target.storage.location, self.prefix, exc
            )


def open_staging(
    resources: Resources, name: str, restore_id: str, references: dict[str, ManifestObject] | None = None
) -> Staging:
    """How this restore hands Milvus the backup's files; `references` are the objects of an incremental backup
    held by other backups' folders (backup-relative key -> manifest entry)."""
    side = resources.need_milvus()
    backup, milvus, settings = resources.backup, side.storage, resources.settings
    milvus.storage.check_bucket()
    streaming = settings.transfer_mode == "streaming"
    seen_by_milvus = side.local_path_seen_by_milvus.rstrip("/")
    if milvus.storage.is_local_directory:
        # Local Milvus imports absolute paths, as the Milvus process sees them (localPath, e.g. a container mount).
        to_path: Callable[[str], str] = (
            (lambda key: f"{seen_by_milvus}/{key}")
            if seen_by_milvus
            else (lambda key: str(milvus.storage.local_path(key)) + "/")
        )
        if backup.storage.is_local_directory and not seen_by_milvus and not streaming:
            return Staging(
                settings,
                backup,
                milvus,
                name,
                restore_id,
                copy=False,
                import_path=lambda key: str(backup.storage.local_path(key)) + "/",
                staged_path=to_path,
                references=references,
            )
        return Staging(
            settings, backup, milvus, name, restore_id, copy=True, import_path=to_path, references=references
        )
    same_bucket = milvus.storage.location == backup.storage.location and milvus.storage.can_copy_from(backup.storage)
    return Staging(
        settings,
        backup,
        milvus,
        name,
        restore_id,
        copy=streaming or not same_bucket,
        import_path=lambda key: key,
        references=references,
    )
