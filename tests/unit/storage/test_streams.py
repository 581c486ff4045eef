"""The stream helpers the backends share: parts, short streams, bounded concurrency, GCS's rewindable reader."""

from __future__ import annotations

import io
import threading
import time

import pytest

from milvus_backup.errors import StorageError
from milvus_backup.storage._streams import READ_PIECE_BYTES, Part, bounded_map, iter_parts, read_exact, read_whole
from milvus_backup.storage.gcs import _Rewindable


class Trickle(io.RawIOBase):
    """Returns at most `step` bytes per read, like a socket."""

    def __init__(self, data: bytes, step: int) -> None:
        super().__init__()
        self._data, self._pos, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        n = self._step if size is None or size < 0 else min(size, self._step)
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk


def test_read_exact_collects_short_reads() -> None:
    assert read_exact(Trickle(b"abcdefghij", 3), 8) == b"abcdefgh"  # type: ignore[arg-type]
    assert read_exact(Trickle(b"abc", 2), 8) == b"abc"  # type: ignore[arg-type]


def test_read_whole_refuses_a_short_stream() -> None:
    assert read_whole(io.BytesIO(b"abc"), 3, "mem://", "k") == b"abc"
    with pytest.raises(StorageError, match="ended after 2 of 3 bytes"):
        read_whole(io.BytesIO(b"ab"), 3, "mem://", "k")


def test_iter_parts_splits_without_joining() -> None:
    data = bytes(range(256)) * (3 * READ_PIECE_BYTES // 256) + b"tail"
    parts = list(iter_parts(io.BytesIO(data), len(data), READ_PIECE_BYTES + 10, "mem://", "k"))
    assert [len(p) for p in parts] == [READ_PIECE_BYTES + 10] * 2 + [len(data) - 2 * (READ_PIECE_BYTES + 10)]
    assert all(len(piece) <= READ_PIECE_BYTES for part in parts for piece in part.pieces)
    assert b"".join(part.read() for part in parts) == data


def test_iter_parts_stops_at_size_and_fails_when_short() -> None:
    assert [p.read() for p in iter_parts(io.BytesIO(b"abcdef"), 4, 3, "mem://", "k")] == [b"abc", b"d"]
    with pytest.raises(StorageError, match="ended after 5 of 6 bytes"):
        list(iter_parts(io.BytesIO(b"abcde"), 6, 4, "mem://", "k"))


def test_part_is_a_seekable_stream() -> None:
    part = Part([b"abc", b"defg", b"h"])
    assert len(part) == 8
    assert part.read(2) == b"ab"
    assert part.read(3) == b"cde"
    assert part.tell() == 5
    assert part.read() == b"fgh"
    assert part.read() == b""
    assert part.seek(3) == 3
    assert part.read(4) == b"defg"
    assert part.seek(-2, io.SEEK_END) == 6
    assert part.read() == b"gh"
    part.seek(0)
    buffer = bytearray(5)
    assert part.readinto(buffer) == 5 and bytes(buffer) == b"abcde"


def test_bounded_map_keeps_order_and_bounds_items_in_flight() -> None:
    alive = 0
    peak = 0
    lock = threading.Lock()

    def items():  # type: ignore[no-untyped-def]
        nonlocal alive, peak
        for i in range(20):
            with lock:
                alive += 1
                peak = max(peak, alive)
            yield i

    def work(i: int) -> int:
        nonlocal alive
        time.sleep(0.005)
        with lock:
            alive -= 1
        return i * i

    assert bounded_map(work, items(), concurrency=2) == [i * i for i in range(20)]
    assert peak <= 3  # two running, one read ahead


def test_bounded_map_stops_after_a_failure() -> None:
    taken = []

    def items():  # type: ignore[no-untyped-def]
        for i in range(100):
            taken.append(i)
            yield i

    def work(i: int) -> int:
        if i == 3:
            raise ValueError("boom")
        time.sleep(0.01)
        return i

    with pytest.raises(ValueError, match="boom"):
        bounded_map(work, items(), concurrency=2)
    assert len(taken) < 10


def test_rewindable_replays_the_last_block_only() -> None:
    stream = _Rewindable(io.BytesIO(b"0123456789"), 10, "mem://", "k")
    assert stream.tell() == 0
    assert stream.read(4) == b"0123"
    assert stream.read(4) == b"4567"
    stream.seek(5)  # back into the last block, as a resumable upload does after a failed chunk
    assert stream.read(4) == b"567"
    assert stream.read(4) == b"89"
    with pytest.raises(io.UnsupportedOperation):
        stream.seek(0)
    short = _Rewindable(io.BytesIO(b"012"), 5, "mem://", "k")
    with pytest.raises(StorageError):
        short.read(5)
