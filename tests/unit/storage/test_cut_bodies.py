"""Bodies cut off after their answer began are read on where they broke, a bounded number of times: against a
small HTTP server on a real socket that serves one object S3-style (GET, `Range: bytes=N-`, `If-Match`) and cuts
its first answers short (the full Content-Length announced, half the bytes sent, the connection closed)."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from milvus_backup.errors import StorageError, StorageUnavailableError
from milvus_backup.storage.s3 import S3Storage

BUCKET, KEY = "bucket", "binlogs/1/2/3"
CONTENT = bytes(range(256)) * 4096  # 1 MiB


@dataclass
class Served:
    content: bytes = CONTENT
    #: How many of the next answers are cut short.
    cuts: int = 0
    #: The Range header of every GET.
    ranges: list[str | None] = field(default_factory=list)

    @property
    def etag(self) -> str:
        return f'"{hashlib.md5(self.content).hexdigest()}"'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    served: Served

    def do_GET(self) -> None:
        served = self.served
        if self.path.split("?")[0] != f"/{BUCKET}/{KEY}":
            self._answer(404, b"<Error><Code>NoSuchKey</Code></Error>")
            return
        served.ranges.append(self.headers.get("Range"))
        match = self.headers.get("If-Match")
        if match is not None and match != served.etag:
            self._answer(412, b"<Error><Code>PreconditionFailed</Code></Error>")
            return
        start = int(m.group(1)) if (m := re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))) else 0
        body = served.content[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", served.etag)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(served.content) - 1}/{len(served.content)}")
        self.end_headers()
        if served.cuts > 0:
            served.cuts -= 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def served() -> Iterator[tuple[Served, str]]:
    state = Served()
    handler = type("Handler", (_Handler,), {"served": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _storage(endpoint: str, max_attempts: int = 5) -> S3Storage:
    return S3Storage(BUCKET, endpoint=endpoint, use_ssl=False, max_attempts=max_attempts, read_timeout=5)


def test_a_cut_body_is_read_on_where_it_broke(served: tuple[Served, str]) -> None:
    state, endpoint = served
    state.cuts = 3
    with _storage(endpoint).open_read(KEY) as reader:
        pieces = []
        while piece := reader.read(64 * 1024):
            pieces.append(piece)
    assert b"".join(pieces) == CONTENT
    assert state.ranges[0] is None and len(state.ranges) == 4
    assert all(r is not None and r.startswith("bytes=") for r in state.ranges[1:])  # resumed, never from 0


def test_a_cut_small_object_is_read_again(served: tuple[Served, str]) -> None:
    state, endpoint = served
    state.cuts = 2
    assert _storage(endpoint).get(KEY) == CONTENT


def test_the_retries_are_bounded(served: tuple[Served, str]) -> None:
    state, endpoint = served
    state.cuts = 100
    with pytest.raises(StorageUnavailableError):
        _storage(endpoint, max_attempts=3).get(KEY)
    assert len(state.ranges) == 3  # the first read and two resumed ones


def test_a_resumed_read_never_splices_two_versions(served: tuple[Served, str]) -> None:
    state, endpoint = served
    state.cuts = 1
    reader = _storage(endpoint).open_read(KEY)
    first = reader.read(1024)
    state.content = b"a newer version" * 1000  # replaced while being read
    with pytest.raises(StorageError, match="PreconditionFailed"):
        while reader.read(64 * 1024):
            pass
    assert first == CONTENT[:1024]
