"""Where `export` writes files: a local directory, each file written under a temporary name beside its final one
and renamed into place when complete; or a folder of object storage, each file spooled to a local temporary file
and uploaded when complete. Either way a file with its final name is always whole."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from milvus_backup.errors import StorageError
from milvus_backup.storage.base import Storage

TMP_MARK = ".tmp-"


class ExportDirectory:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(location=str(self.root), detail=f"cannot create the output directory: {exc}") from exc

    def describe(self, path: str = "") -> str:
        return str(self.root / path) if path else str(self.root)

    def exists(self, path: str) -> bool:
        return (self.root / path).is_file()

    def open_read(self, path: str) -> BinaryIO:
        return (self.root / path).open("rb")

    def size(self, path: str) -> int:
        return (self.root / path).stat().st_size

    def list(self, folder: str) -> list[str]:
        """The complete files directly in `folder` (relative paths, sorted); temporary files are left out."""
        directory = self.root / folder
        if not directory.is_dir():
            return []
        return sorted(f"{folder}/{p.name}" for p in directory.iterdir() if p.is_file() and TMP_MARK not in p.name)

    @contextmanager
    def write(self, path: str) -> Iterator[BinaryIO]:
        """A file opened for writing under a temporary name, renamed to `path` when the block ends without an
        error, removed otherwise."""
        final = self.root / path
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(location=str(final.parent), detail=f"cannot create the directory: {exc}") from exc
        tmp = final.with_name(f"{final.name}{TMP_MARK}{uuid.uuid4().hex[:8]}")
        out = tmp.open("xb")
        try:
            yield out
            out.close()
            os.replace(tmp, final)
        finally:
            out.close()
            tmp.unlink(missing_ok=True)

    def remove_temporary(self) -> int:
        """Temporary files left by an export that was cut off; returns how many were removed."""
        removed = 0
        for tmp in self.root.rglob(f"*{TMP_MARK}*"):
            if tmp.is_file():
                tmp.unlink(missing_ok=True)
                removed += 1
        return removed


class ExportObjects:
    """A folder (`prefix`, empty or ending in "/") of object storage. An upload is whole or absent, so nothing is
    temporary there; the spool file lies in the system's temporary directory (TMPDIR) and is removed at once."""

    def __init__(self, storage: Storage, prefix: str) -> None:
        self.storage = storage
        self.prefix = prefix

    def describe(self, path: str = "") -> str:
        return f"{self.storage.location}/{self.prefix}{path}".rstrip("/")

    def exists(self, path: str) -> bool:
        return self.storage.exists(self.prefix + path)

    def open_read(self, path: str) -> BinaryIO:
        return self.storage.open_read(self.prefix + path)

    def size(self, path: str) -> int:
        return self.storage.stat(self.prefix + path).size

    def list(self, folder: str) -> list[str]:
        """The files directly in `folder` (relative paths, sorted)."""
        inside = f"{self.prefix}{folder}/"
        names = (info.key[len(inside) :] for info in self.storage.list(inside))
        return sorted(f"{folder}/{name}" for name in names if "/" not in name)

    @contextmanager
    def write(self, path: str) -> Iterator[BinaryIO]:
        """A local spool file, uploaded to `path` when the block ends without an error."""
        with tempfile.TemporaryFile(prefix="milvus-backup-export-") as spool:
            yield spool
            size = spool.tell()
            spool.seek(0)
            self.storage.put_stream(self.prefix + path, spool, size)

    def remove_temporary(self) -> int:
        return 0
