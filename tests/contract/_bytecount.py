"""How many bytes this process reads while a block of code runs, from files and from sockets.

`psutil.Process().io_counters().read_chars` is the kernel's `rchar`: it grows with read(2) and friends, but
not with recv(2)/recvfrom(2), which is how Python's sockets (and so every HTTP client here) receive. So bytes
received from sockets are counted separately, by wrapping the receive methods of `socket.socket` for the
duration of the block; the wrapper only counts and passes everything through.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil


@dataclass
class BytesRead:
    files: int = 0  # read_chars delta (read(2) on files, pipes; and sockets read with read(2))
    sockets: int = 0  # bytes returned by recv/recv_into/recvfrom/recvfrom_into on any socket of this process

    @property
    def total(self) -> int:
        return self.files + self.sockets


@contextmanager
def bytes_read() -> Iterator[BytesRead]:
    result = BytesRead()
    lock = threading.Lock()
    originals = {name: getattr(socket.socket, name) for name in ("recv", "recv_into", "recvfrom", "recvfrom_into")}

    def add(n: int) -> None:
        with lock:
            result.sockets += n

    def recv(self: socket.socket, *args: object, **kwargs: object) -> bytes:
        data = originals["recv"](self, *args, **kwargs)
        add(len(data))
        return data

    def recv_into(self: socket.socket, *args: object, **kwargs: object) -> int:
        n = originals["recv_into"](self, *args, **kwargs)
        add(n)
        return n

    def recvfrom(self: socket.socket, *args: object, **kwargs: object) -> tuple[bytes, object]:
        data, address = originals["recvfrom"](self, *args, **kwargs)
        add(len(data))
        return data, address

    def recvfrom_into(self: socket.socket, *args: object, **kwargs: object) -> tuple[int, object]:
        n, address = originals["recvfrom_into"](self, *args, **kwargs)
        add(n)
        return n, address

    wrappers = {"recv": recv, "recv_into": recv_into, "recvfrom": recvfrom, "recvfrom_into": recvfrom_into}
    process = psutil.Process()
    before = process.io_counters().read_chars
    for name, wrapper in wrappers.items():
        setattr(socket.socket, name, wrapper)
    try:
        yield result
    finally:
        for name in wrappers:
            # The originals are inherited from _socket.socket: removing the wrappers restores them.
            delattr(socket.socket, name)
        result.files = process.io_counters().read_chars - before
