"""A fault-injecting HTTP proxy in front of an S3 service (pure Python, one thread per connection).

The tool talks to the proxy as to the service itself: requests are passed on byte for byte (the Host header
included, so SigV4 signatures still match) and answers come back unchanged, except where a fault plan or a gate
says otherwise.

- A **fault plan** (seeded) turns a fraction of the requests into one of: a 503 answer, a connection reset, a
  stall longer than the client's read timeout, or a body cut short (the full Content-Length is announced, half
  the body is sent, the connection is closed). Whether the n-th occurrence of a request (method and path) is
  faulted depends only on the seed, the request and n, not on how threads interleave, so a seed replays.
- A **gate** holds the n-th request that matches until it is released (or the proxy stops): a test waits for
  ``gate.reached`` and then knows exactly where the tool (or Milvus) is, e.g. to SIGKILL it in that phase. A
  request held before it reached the service is dropped (connection reset) when released.
"""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import unquote, urlsplit

from tests.rig.ports import LOCALHOST

FaultKind = Literal["5xx", "reset", "stall", "truncate"]
FAULT_KINDS: tuple[FaultKind, ...] = ("5xx", "reset", "stall", "truncate")
# Hop-by-hop headers, and Expect: the proxy answers "100 Continue" itself and sends the whole body upstream.
_NOT_FORWARDED = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "expect", "te", "upgrade"}


@dataclass(frozen=True)
class Request:
    method: str
    #: Path without the query, percent-decoded: "/<bucket>/<key>".
    path: str
    #: The query, percent-decoded (a listing's prefix is in it).
    query: str
    #: The client's User-Agent (botocore for the tool, minio-go for Milvus).
    agent: str = ""

    @property
    def by_milvus(self) -> bool:
        return "minio-go" in self.agent

    @property
    def is_listing(self) -> bool:
        return self.method == "GET" and "list-type=" in self.query

    @property
    def key(self) -> str:
        """The object key (or listing), without the bucket."""
        return self.path.lstrip("/").partition("/")[2]


@dataclass
class FaultPlan:
    """Fault a ``rate`` of the requests that ``match``, with a kind drawn from ``kinds``, at most ``limit`` times
    in all and at most ``per_request`` times for one request (method, path and query): transient faults, which a
    client's retries are meant to outlast."""

    seed: int
    rate: float
    kinds: tuple[FaultKind, ...] = FAULT_KINDS
    limit: int = 1_000_000
    per_request: int = 2
    match: Callable[[Request], bool] = lambda request: True
    #: How long a stall lasts; longer than the client's read timeout.
    stall_seconds: float = 3.0

    def draw(self, request: Request, nth: int) -> FaultKind | None:
        if not self.match(request):
            return None
        rng = random.Random(f"{self.seed}|{request.method}|{request.path}|{request.query}|{nth}")
        if rng.random() >= self.rate:
            return None
        return rng.choice(self.kinds)


@dataclass(frozen=True)
class Injected:
    kind: FaultKind
    request: Request


@dataclass
class Gate:
    """Holds the ``nth`` request (1-based) that matches, before or after it reached the service."""

    match: Callable[[Request], bool]
    after_upstream: bool
    nth: int = 1
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    request: Request | None = None
    _seen: int = 0


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.plan: FaultPlan | None = None
        self.injected: list[Injected] = []
        self.requests: list[Request] = []
        self._gates: list[Gate] = []
        self._seen: Counter[tuple[str, str, str]] = Counter()
        self._faulted: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        handler = type("Handler", (_Handler,), {"proxy": self})
        self._server = ThreadingHTTPServer((LOCALHOST, 0), handler)
        self._server.daemon_threads = True
        self.host, self.port = LOCALHOST, self._server.server_address[1]
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()

    def faults(self, plan: FaultPlan | None) -> None:
        """Use ``plan`` from now on (None: pass everything through); the count of injected faults restarts."""
        with self._lock:
            self.plan = plan
            self.injected = []
            self._seen.clear()
            self._faulted.clear()

    def gate(self, match: Callable[[Request], bool], *, after_upstream: bool = False, nth: int = 1) -> Gate:
        gate = Gate(match, after_upstream, nth)
        with self._lock:
            self._gates.append(gate)
        return gate

    def open_gates(self) -> None:
        with self._lock:
            gates, self._gates = self._gates, []
        for gate in gates:
            gate.release.set()

    def stop(self) -> None:
        self._stopping.set()
        self.open_gates()
        self._server.shutdown()
        self._server.server_close()

    # -- used by the handler ----------------------------------------------------------------------------

    def _admit(self, request: Request) -> tuple[FaultKind | None, Gate | None]:
        with self._lock:
            self.requests.append(request)
            gate = None
            for candidate in self._gates:
                if candidate.request is None and candidate.match(request):
                    candidate._seen += 1
                    if candidate._seen == candidate.nth:
                        candidate.request = request
                        gate = candidate
                        break
            plan = self.plan
            if gate is not None or plan is None or len(self.injected) >= plan.limit:
                return None, gate
            signature = (request.method, request.path, request.query)
            self._seen[signature] += 1
            if self._faulted[signature] >= plan.per_request:
                return None, None
            kind = plan.draw(request, self._seen[signature])
            if kind is not None:
                self._faulted[signature] += 1
            return kind, None

    def _record(self, kind: FaultKind, request: Request) -> None:
        with self._lock:
            self.injected.append(Injected(kind, request))


class _Handler(BaseHTTPRequestHandler):
    proxy: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(self.command, unquote(parts.path), unquote(parts.query), self.headers.get("User-Agent", ""))
        kind, gate = self.proxy._admit(request)
        if gate is not None and not gate.after_upstream:
            # Held before the service saw it; once released it never reaches the service (whoever sent it has
            # usually been killed meanwhile, and a late write would be the proxy's doing, not the tool's).
            self._hold(gate)
            self._reset()
            return
        if kind in ("5xx", "reset", "stall"):
            self.proxy._record(kind, request)
            self._fail(kind)
            return
        try:
            status, reason, headers, answer = self._forward(body)
        except OSError:
            self._reset()
            return
        if gate is not None and gate.after_upstream:
            self._hold(gate)
        if kind == "truncate" and len(answer) >= 2:
            self.proxy._record(kind, request)
            self._reply(status, reason, headers, answer[: len(answer) // 2])
            self._reset()
            return
        self._reply(status, reason, headers, answer)

    def _hold(self, gate: Gate) -> None:
        gate.reached.set()
        gate.release.wait()

    def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(*self.proxy.upstream, timeout=60)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in _NOT_FORWARDED:
                    conn.putheader(name, value)
            if body and "Content-Length" not in self.headers:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            response = conn.getresponse()
            answer = response.read()
            headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _NOT_FORWARDED]
            return response.status, response.reason, headers, answer
        finally:
            conn.close()

    def _reply(self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response_only(status, reason)
        for name, value in headers:
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _fail(self, kind: FaultKind) -> None:
        if kind == "5xx":
            body = b"<Error><Code>ServiceUnavailable</Code><Message>injected by the fault proxy</Message></Error>"
            self._reply(503, "Service Unavailable", [("Content-Type", "application/xml")], body)
            return
        if kind == "stall":
            self.proxy._stopping.wait(self.proxy.plan.stall_seconds if self.proxy.plan else 0)
        self._reset()

    def _reset(self) -> None:
        """Close with an RST, so the client sees a cut connection, not a clean end."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
