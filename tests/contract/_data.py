"""Deterministic test content of any size, produced as a stream so big objects never sit in memory."""

from __future__ import annotations

import hashlib
import io
import random

_BLOCK = 1024 * 1024


class PatternStream(io.RawIOBase):
    """`size` pseudo-random bytes: a random 1 MiB block whose first 8 bytes hold the block's number, so no two
    MiB are alike. The same (size, seed) always gives the same bytes."""

    def __init__(self, size: int, seed: int = 0) -> None:
        super().__init__()
        self._size = size
        self._pos = 0
        self._base = random.Random(seed).randbytes(_BLOCK)

    def readable(self) -> bool:
        return True

    def _block(self, index: int) -> bytes:
        return index.to_bytes(8, "big") + self._base[8:]

    def read(self, size: int | None = -1) -> bytes:
        remaining = self._size - self._pos
        want = remaining if size is None or size < 0 else min(size, remaining)
        pieces = []
        while want > 0:
            index, offset = divmod(self._pos, _BLOCK)
            take = min(want, _BLOCK - offset)
            pieces.append(self._block(index)[offset : offset + take])
            self._pos += take
            want -= take
        return b"".join(pieces)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def pattern_digest(size: int, seed: int = 0) -> str:
    return stream_digest(PatternStream(size, seed))


def stream_digest(stream: io.RawIOBase | object, piece: int = 4 * _BLOCK) -> str:
    digest = hashlib.sha256()
    while True:
        data = stream.read(piece)  # type: ignore[attr-defined]
        if not data:
            return digest.hexdigest()
        digest.update(data)
