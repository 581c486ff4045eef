"""Object keys: every key the tool reads or writes is built here (no I/O)."""

from __future__ import annotations


def root_prefix(root_path: str) -> str:
    """A configured root path ('files', '/files/', '') as a key prefix ('files/', '')."""
    stripped = root_path.strip("/")
    return f"{stripped}/" if stripped else ""


def join(prefix: str, *parts: str) -> str:
    return prefix + "/".join(part.strip("/") for part in parts if part)


def check_probe_keys(milvus_root: str, backup_root: str, token: str) -> tuple[str, str]:
    """The probe object `check` writes into Milvus storage and its copy in backup storage (upstream's names)."""
    return (
        join(milvus_root, f"milvus_backup_check_src_{token}"),
        join(backup_root, f"milvus_backup_check_dst_{token}"),
    )


META_DIR = "meta"
BINLOG_DIR = "binlogs"
#: Written last of all meta files: its presence is what makes a backup complete, for this tool and upstream.
COMMIT_FILE = "backup_meta.json"
MANIFEST_FILE = "manifest.json"
#: Ours, only in an incremental backup: its base and the backups holding bytes it references.
REFERENCES_FILE = "references.json"
#: Ours, at the top of a backup's folder: held by the create that writes the backup, removed when it ends (see
#: service/claim.py).
LOCK_FILE = "create.lock"
#: The meta files; backup_meta.json (the commit marker) is written last, after all the others.
META_FILES = ("collection_meta.json", "partition_meta.json", "segment_meta.json", "full_meta.json", COMMIT_FILE)


def backup_dir(backup_root: str, name: str) -> str:
    return join(backup_root, name) + "/"


def lock_key(backup_root: str, name: str) -> str:
    return join(backup_root, name, LOCK_FILE)


def meta_key(backup_root: str, name: str, file: str) -> str:
    return join(backup_root, name, META_DIR, file)


def source_insert_prefix(milvus_root: str, collection_id: int, partition_id: int, segment_id: int) -> str:
    return join(milvus_root, "insert_log", str(collection_id), str(partition_id), str(segment_id)) + "/"


def source_delta_prefix(milvus_root: str, collection_id: int, partition_id: int, segment_id: int) -> str:
    return join(milvus_root, "delta_log", str(collection_id), str(partition_id), str(segment_id)) + "/"


def _groups(partition_id: int, group_id: int) -> list[int]:
    # Group 0 (backups of upstream <= 0.4) and L0 segments of the whole collection (partition -1) have no
    # group folder, as upstream writes them.
    return [] if partition_id == -1 or group_id == 0 else [group_id]


def backup_insert_key(
    backup_root: str,
    name: str,
    collection_id: int,
    partition_id: int,
    group_id: int,
    segment_id: int,
    field_id: int,
    log_id: int,
) -> str:
    parts = [
        BINLOG_DIR,
        "insert_log",
        collection_id,
        partition_id,
        *_groups(partition_id, group_id),
        segment_id,
        field_id,
        log_id,
    ]
    return join(backup_root, name, *map(str, parts))


def backup_delta_key(
    backup_root: str, name: str, collection_id: int, partition_id: int, group_id: int, segment_id: int, log_id: int
) -> str:
    parts = [BINLOG_DIR, "delta_log", collection_id, partition_id, *_groups(partition_id, group_id), segment_id, log_id]
    return join(backup_root, name, *map(str, parts))


def backup_import_dirs(
    backup_root: str, name: str, collection_id: int, partition_id: int, group_id: int
) -> tuple[str, str]:
    """The (insert, delta) folders of a segment's group, or with group 0 those of the whole partition (what a
    restore imports, and all there is in old backups without group ids)."""
    parts = [BINLOG_DIR, "{kind}", str(collection_id), str(partition_id)] + ([str(group_id)] if group_id else [])
    template = join(backup_root, name, *parts)
    return template.format(kind="insert_log") + "/", template.format(kind="delta_log") + "/"


#: Ours, in a backup's folder: one journal per restore of the backup that is running, was killed, or kept what it
#: had restored after a failure (`--keep-partial`); see service/restore_journal.py.
RESTORES_DIR = "restores"


def restore_journal_key(backup_root: str, name: str, restore_id: str) -> str:
    return join(backup_root, name, RESTORES_DIR, f"{restore_id}.json")


def restore_journals_prefix(backup_root: str, name: str) -> str:
    return join(backup_root, name, RESTORES_DIR) + "/"


def backup_segment_delta_dir(
    backup_root: str, name: str, collection_id: int, partition_id: int, group_id: int, segment_id: int
) -> str:
    """One segment's delta-log folder: what an L0 import reads (Milvus lists every delta log below it)."""
    parts = [BINLOG_DIR, "delta_log", collection_id, partition_id, *_groups(partition_id, group_id), segment_id]
    return join(backup_root, name, *map(str, parts)) + "/"
