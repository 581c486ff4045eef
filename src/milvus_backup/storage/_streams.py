"""Small stream helpers shared by the backends: bounded reads and error-translating readers."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, suppress
from typing import Any, BinaryIO, TypeVar

from milvus_backup.errors import StorageError

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def read_exact(stream: BinaryIO, n: int) -> bytes:
    """Read up to `n` bytes, fewer only at end of stream (a single `read` may return less)."""
    first = stream.read(n)
    if not first or len(first) >= n:
        return first or b""
    pieces = [first]
    got = len(first)
    while got < n:
        piece = stream.read(n - got)
        if not piece:
            break
        pieces.append(piece)
        got += len(piece)
    return b"".join(pieces)


def short_stream(location: str, key: str, got: int, size: int) -> StorageError:
    return StorageError(location=location, detail=f"stream for {key!r} ended after {got} of {size} bytes")


def read_whole(stream: BinaryIO, size: int, location: str, key: str) -> bytes:
    """Exactly `size` bytes of `stream` (a small object), or `StorageError` if it ends early."""
    data = read_exact(stream, size)
    if len(data) != size:
        raise short_stream(location, key, len(data), size)
    return data


# Parts are read from their source in pieces of this size and never joined: an HTTP read of n bytes briefly
# needs about 2n of memory, so small pieces keep that overhead small whatever the part size.
READ_PIECE_BYTES = 1024 * 1024


class Part(io.RawIOBase):
    """One part of an upload, held as the list of pieces it was read in: a seekable stream (SDKs send it, hash
    it, and rewind it to retry) that never needs one contiguous buffer of the part's size."""

    def __init__(self, pieces: list[bytes]) -> None:
        super().__init__()
        self._pieces = pieces
        self._size = sum(len(p) for p in pieces)
        self._pos = 0
        self._index = 0  # piece holding self._pos ...
        self._offset = 0  # ... and where in it

    def __len__(self) -> int:
        return self._size

    @property
    def pieces(self) -> list[bytes]:
        return self._pieces

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: offset, io.SEEK_CUR: self._pos + offset, io.SEEK_END: self._size + offset}[whence]
        target = max(0, min(target, self._size))
        self._pos, self._index, self._offset = target, 0, target
        while self._index < len(self._pieces) and self._offset >= len(self._pieces[self._index]):
            self._offset -= len(self._pieces[self._index])
            self._index += 1
        return target

    def read(self, size: int | None = -1) -> bytes:
        want = self._size - self._pos if size is None or size < 0 else min(size, self._size - self._pos)
        out = []
        while want > 0:
            piece = self._pieces[self._index]
            take = min(want, len(piece) - self._offset)
            out.append(piece if take == len(piece) else piece[self._offset : self._offset + take])
            self._offset += take
            self._pos += take
            want -= take
            if self._offset == len(piece):
                self._index, self._offset = self._index + 1, 0
        return out[0] if len(out) == 1 else b"".join(out)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def iter_parts(stream: BinaryIO, size: int, part_size: int, location: str, key: str) -> Iterator[Part]:
    """Yield the `size` bytes of `stream` as `Part`s of `part_size` bytes (the last one shorter).

    Raises `StorageError` when the stream ends early, so a short source never becomes a short object.
    """
    done = 0
    while done < size:
        want = min(part_size, size - done)
        pieces: list[bytes] = []
        got = 0
        while got < want:
            piece = stream.read(min(READ_PIECE_BYTES, want - got))
            if not piece:
                raise short_stream(location, key, done + got, size)
            pieces.append(piece)
            got += len(piece)
        done += got
        yield Part(pieces)


class TranslatingReader(io.RawIOBase):
    """A read-only stream over an SDK stream whose reads raise our errors, not the SDK's.

    `read(n)` hands back what the SDK returns, without the extra copy `RawIOBase.read` would make.
    """

    def __init__(
        self,
        read: Callable[[int], bytes],
        translate: Callable[[], AbstractContextManager[object]],
        close: Callable[[], object] | None = None,
    ) -> None:
        super().__init__()
        self._read = read
        self._translate = translate
        self._close = close

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed stream")
        with self._translate():
            data = self._read(-1 if size is None else size)
        return bytes(data) if not isinstance(data, bytes) else data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed and self._close is not None:
            # Closing a half-read HTTP body must never mask the real outcome.
            with suppress(Exception):
                self._close()
        super().close()


class ResumingReader(io.RawIOBase):
    """A read-only stream over an object that survives a cut connection: when a read fails with an error that
    `is_transient` accepts (a body cut short, a reset, a read timeout), the object is opened again at the offset
    reached (`open_at(offset)` returns the SDK's body from there on) and the read goes on, at most `retries` times
    over the whole stream. Reads raise only our errors (`translate`, as in `TranslatingReader`).

    `open_at(offset)` must read the same version of the object as the first opening did (an S3 `If-Match` of its
    ETag), so a resumed stream never splices two versions."""

    def __init__(
        self,
        open_at: Callable[[int], Any],
        is_transient: Callable[[BaseException], bool],
        translate: Callable[[], AbstractContextManager[object]],
        retries: int,
        first: Any = None,
    ) -> None:
        super().__init__()
        self._open_at = open_at
        self._is_transient = is_transient
        self._translate = translate
        self._retries_left = retries
        self._body: Any = first
        self._offset = 0
        #: Times a cut read was resumed (for logs and tests).
        self.resumed = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed stream")
        want = None if size is None or size < 0 else size  # None: botocore then checks the length it got
        with self._translate():
            while True:
                try:
                    if self._body is None:
                        self._body = self._open_at(self._offset)
                    data = self._body.read(want)
                    break
                except Exception as exc:
                    if not (self._retries_left > 0 and self._is_transient(exc)):
                        raise
                    self._retries_left -= 1
                    self.resumed += 1
                    logger.info("a read was cut off (%s); reading on from byte %d", exc, self._offset)
                    self._drop_body()
        data = bytes(data) if not isinstance(data, bytes) else data
        self._offset += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _drop_body(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            with suppress(Exception):
                body.close()

    def close(self) -> None:
        if not self.closed:
            self._drop_body()
        super().close()


def bounded_map(fn: Callable[[T], R], items: Iterable[T], concurrency: int, name: str = "part") -> list[R]:
    """`[fn(item) for item in items]` on `concurrency` threads, taking the next item from `items` only when a
    thread is free, so at most `concurrency + 1` items (e.g. parts read from a stream) are alive at once.

    Stops taking items after the first failure and re-raises it once the running calls have ended.
    """
    slots = threading.BoundedSemaphore(concurrency)
    failed = threading.Event()
    futures: list[Future[R]] = []

    def finished(future: Future[R]) -> None:
        if future.exception() is not None:
            failed.set()
        slots.release()

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=name) as pool:
        for item in items:
            slots.acquire()
            if failed.is_set():
                break
            future = pool.submit(fn, item)
            del item
            future.add_done_callback(finished)
            futures.append(future)
    return [future.result() for future in futures]
