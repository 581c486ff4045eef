"""A directory of the local file system used as a bucket: key `a/b/c` is the file `<root>/a/b/c`."""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import google_crc32c

from milvus_backup.errors import (
    BucketNotFoundError,
    ObjectNotFoundError,
    StorageAccessDeniedError,
    StorageError,
)
from milvus_backup.storage._streams import iter_parts
from milvus_backup.storage.base import STREAM_CHUNK_BYTES, CopyReceipt, ObjectInfo, Storage

#: Local copies move data in pieces this big. google_crc32c releases the GIL only for `bytes` of 1 MiB or more;
#: below that, taking the checksum holds the GIL while the other copying threads wait for it.
COPY_CHUNK_BYTES = 1024 * 1024

# Objects are written into a temporary file in `<root>/.milvus-backup-tmp/` and renamed into place, so a reader
# never sees half an object, and a write killed halfway leaves its debris there: never inside a folder that a
# backup lists or Milvus imports. Listings skip that folder (and `_TMP_MARK` files, which versions before it left
# next to their objects; a delete of a prefix removes those).
_TMP_DIR = ".milvus-backup-tmp"
_TMP_MARK = ".milvus-backup-tmp-"
#: A write refused for want of space: the disk, the user's quota, or the process's file-size limit.
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
# Listings hand out the walk's objects in pages of this many.
_LIST_PAGE = 1000


class LocalStorage(Storage):
    kind = "local"
    is_local_directory = True
    #: A local copy passes through this process and keeps a core busy. More copies at once than cores only make
    #: threads queue for the GIL (`python -m bench.copy_paths` measures it). This also caps their memory at one
    #: chunk per core, whatever transfer.concurrency is.
    copy_parallelism = os.cpu_count() or 2

    def __init__(self, root: Path | str) -> None:
        self._root = Path(root).absolute()
        self.location = self._root.as_uri()

    def __repr__(self) -> str:
        return f"LocalStorage(root={str(self._root)!r})"

    @property
    def root(self) -> Path:
        return self._root

    # -- helpers -------------------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*key.split("/"))

    def _bucket_missing(self) -> BucketNotFoundError:
        return BucketNotFoundError(bucket=str(self._root), location=self.location, directory=True)

    @contextmanager
    def _translate_errors(
        self, key: str, *, bucket_op: bool = False, location: str | None = None, writing: bool = False
    ) -> Iterator[None]:
        """`bucket_op` changes nothing here: a missing root is told from a missing file by looking at the root.
        `location` is not used either: a local error names the directory it happened in."""
        try:
            yield
        except (IsADirectoryError, NotADirectoryError, FileExistsError) as exc:
            if writing and self._root.is_dir():
                # An object store can hold both "a/b" and "a/b/c"; a file system cannot.
                raise StorageError(
                    location=self.location,
                    detail=f"{key!r} clashes with an object or folder of the same name (a local directory cannot "
                    "hold both a file 'x' and files under 'x/')",
                ) from exc
            if not self._root.is_dir():
                raise self._bucket_missing() from exc
            raise ObjectNotFoundError(key=key, location=self.location) from exc
        except FileNotFoundError as exc:
            if not self._root.is_dir():
                raise self._bucket_missing() from exc
            raise ObjectNotFoundError(key=key, location=self.location) from exc
        except PermissionError as exc:
            raise StorageAccessDeniedError(location=self.location, detail=f"{key!r}: {exc}") from exc
        except OSError as exc:
            if exc.errno in _FULL:
                raise StorageError(
                    location=self.location, detail=f"{key!r}: the file system is full ({exc.strerror})"
                ) from exc
            raise StorageError(location=self.location, detail=f"{key!r}: {exc}") from exc

    def _make_parent(self, path: Path) -> None:
        if not self._root.is_dir():
            raise self._bucket_missing()
        path.parent.mkdir(parents=True, exist_ok=True)

    def _write_atomically(self, key: str, write: Callable[[BinaryIO], object]) -> None:
        """Call `write(out)` to fill a new temporary file in `<root>/.milvus-backup-tmp/`, then rename it into
        place (one file system: the rename is atomic).

        The temporary file is created once and written through that one handle: reopening it with truncation
        makes ext4 flush it to disk on close (its replace-by-truncate heuristic), which slowed copies by half.
        """
        path = self._path(key)
        with self._translate_errors(key, writing=True):
            if not self._root.is_dir():
                raise self._bucket_missing()
            tmp_dir = self._root / _TMP_DIR
            tmp_dir.mkdir(exist_ok=True)
            tmp = tmp_dir / uuid.uuid4().hex
            out = tmp.open("xb")
            try:
                with out:
                    write(out)
                for attempt in range(3):
                    self._make_parent(path)
                    try:
                        os.replace(tmp, path)
                        break
                    except FileNotFoundError:
                        # A concurrent delete's clean-up of empty folders removed the parent in between.
                        if attempt == 2 or not tmp.exists():
                            raise
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise

    # -- the raw operations --------------------------------------------------------------------------

    def _local_path(self, key: str) -> str:
        return str(self._path(key))

    def _stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        st = path.stat()
        if not path.is_file():
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        return ObjectInfo(key=key, size=st.st_size)

    # `_reported_md5`: the base's None after a stat. A file system records no checksum (and computing one
    # would read the file).

    def _get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def _open_read(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def _put(self, key: str, data: bytes) -> None:
        self._write_atomically(key, lambda out: out.write(data))

    def _put_if_absent(self, key: str, data: bytes) -> bool:
        """The whole content in a temporary file, then a hard link to the key: linking fails when the key
        exists, so the object appears complete or not at all, and only once."""
        path = self._path(key)
        if not self._root.is_dir():
            raise self._bucket_missing()
        tmp_dir = self._root / _TMP_DIR
        tmp_dir.mkdir(exist_ok=True)
        tmp = tmp_dir / uuid.uuid4().hex
        try:
            tmp.write_bytes(data)
            self._make_parent(path)
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def _put_stream(self, key: str, stream: BinaryIO, size: int) -> None:
        def write(out: BinaryIO) -> None:
            for part in iter_parts(stream, size, STREAM_CHUNK_BYTES, self.location, key):
                out.writelines(part.pieces)

        self._write_atomically(key, write)

    def _list(self, prefix: str) -> Iterator[list[ObjectInfo]]:
        if not self._root.is_dir():
            raise self._bucket_missing()
        # Walk the deepest directory that can hold matches; keys below it are filtered by plain string prefix
        # (so "a/b" matches "a/b", "a/bc/x" and "a/b/x", exactly like an object store).
        base = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
        start = self._path(base.rstrip("/")) if base else self._root
        page: list[ObjectInfo] = []
        for info in self._walk(start, base, prefix):
            page.append(info)
            if len(page) == _LIST_PAGE:
                yield page
                page = []
        if page:
            yield page

    def _walk(self, directory: Path, key_prefix: str, wanted: str) -> Iterator[ObjectInfo]:
        """Objects below `directory` in key order.

        Sorting each directory's entries by name, with `/` appended to sub-directories, yields keys in
        plain string order: every key inside `d/` starts with `d/`.
        """
        try:
            with os.scandir(directory) as it:
                entries = []
                for entry in it:
                    if _is_temporary(entry.name):
                        continue
                    is_dir = entry.is_dir(follow_symlinks=False)
                    entries.append((entry.name + "/" if is_dir else entry.name, entry))
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            with self._translate_errors(key_prefix or "/"):
                raise exc
        entries.sort(key=lambda pair: pair[0])
        for sort_name, entry in entries:
            key = key_prefix + sort_name
            if sort_name.endswith("/"):
                # Descend only where matches can be: the directory's keys all start with `key`.
                if key.startswith(wanted) or wanted.startswith(key):
                    yield from self._walk(Path(entry.path), key, wanted)
            elif key.startswith(wanted):
                with self._translate_errors(key):
                    size = entry.stat().st_size
                yield ObjectInfo(key=key, size=size)

    def _list_dirs(self, prefix: str) -> list[str]:
        if not self._root.is_dir():
            raise self._bucket_missing()
        directory = self._path(prefix.rstrip("/")) if prefix else self._root
        try:
            with os.scandir(directory) as it:
                return [e.name for e in it if e.is_dir(follow_symlinks=False) and _has_objects(Path(e.path))]
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            with self._translate_errors(prefix):
                raise exc

    def _delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink()  # a missing file raises here, before any folder is pruned
        self._prune_empty_parents(path.parent)

    def _delete_prefix(self, prefix: str) -> int:
        """Every listed object, then, below a folder prefix, the temporary files that earlier versions left next
        to their objects when killed mid-write (not counted: they were never objects)."""
        count = super()._delete_prefix(prefix)
        if prefix.endswith("/"):
            folder = self._path(prefix.rstrip("/"))
            for debris in sorted(folder.rglob(f"*{_TMP_MARK}*")) if folder.is_dir() else []:
                debris.unlink(missing_ok=True)
                self._prune_empty_parents(debris.parent)
        return count

    def _prune_empty_parents(self, directory: Path) -> None:
        """Object stores have no empty folders; remove the directories a delete left empty (never the root)."""
        while directory != self._root and self._root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    def _check_bucket(self) -> None:
        if not self._root.is_dir():
            raise self._bucket_missing()
        if not os.access(self._root, os.R_OK | os.W_OK | os.X_OK):
            raise StorageAccessDeniedError(location=self.location, detail="the directory is not readable and writable")

    def can_copy_from(self, source: Storage) -> bool:
        return isinstance(source, LocalStorage)

    def _copy_from(self, source: Storage, src_key: str, dst_key: str, size: int) -> CopyReceipt:
        """A real copy, never a hard link (Milvus may later delete or rewrite its own file), checksummed and
        counted on the way: a CRC32C of the bytes written costs less than reading the copy again."""
        if not isinstance(source, LocalStorage):  # a subclass may widen can_copy_from
            raise StorageError(location=self.location, detail=f"cannot copy server-side from {source.location}")
        src_path = source._path(src_key)
        with source._translate_errors(src_key):
            if not src_path.is_file():
                raise FileNotFoundError(errno.ENOENT, "no such object", str(src_path))
        crc = written = 0

        def copy(out: BinaryIO) -> None:
            nonlocal crc, written
            # Only the reads are the source's: a failed write (a full disk) is this storage's, and says so.
            with source._translate_errors(src_key):
                src = open(src_path, "rb", buffering=0)  # noqa: SIM115 (closed by the `with` below)
            with src:
                while True:
                    with source._translate_errors(src_key):
                        chunk = src.read(COPY_CHUNK_BYTES)
                    if not chunk:
                        break
                    crc = google_crc32c.extend(crc, chunk)
                    out.write(chunk)
                    written += len(chunk)

        self._write_atomically(dst_key, copy)
        return CopyReceipt(checksum=f"crc32c:{crc:08x}", size=written)


def _is_temporary(name: str) -> bool:
    return name == _TMP_DIR or _TMP_MARK in name


def _has_objects(directory: Path) -> bool:
    if directory.name == _TMP_DIR:
        return False
    for _dirpath, _dirnames, filenames in os.walk(directory):
        if any(_TMP_MARK not in name for name in filenames):
            return True
    return False
