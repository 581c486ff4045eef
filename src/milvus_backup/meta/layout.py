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
    return (join(milvus_root, f"milvus_backup_check_src_{token}"), join(backup_root, f"milvus_backup_check_dst_{token}"))
