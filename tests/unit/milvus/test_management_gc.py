"""`ManagementGc` against a small HTTP server that answers as Milvus's management port does, per generation:

* 2.3: no route (404);
* 2.4 to 2.6.7: `{"msg": "OK"}` on pause and resume (internal/proxy/management.go);
* >= 2.6.8: pause answers a ticket, and a resume without it fails with 500 (upstream milvus-backup's client reads
  the ticket as `data.ticket`; its notes describe it at the top level: both shapes are served here);
* with admin authentication on the management port: 401.
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse
from collections.abc import Iterator
from typing import ClassVar

import pytest

from milvus_backup.milvus.gc import ManagementGc
from milvus_backup.milvus.protocol import GcUnsupported
from milvus_backup.service.gc_pause import gc_paused


class _Management(http.server.BaseHTTPRequestHandler):
    generation = "2.4"
    requests: ClassVar[list[tuple[str, dict[str, str]]]] = []
    paused: ClassVar[set[str]] = set()

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        action = url.path.rsplit("/", 1)[1]
        type(self).requests.append((action, query))
        if not url.path.startswith("/management/datacoord/garbage_collection/") or self.generation == "2.3":
            return self._answer(404, "404 page not found")
        if self.generation == "auth":
            return self._answer(401, '{"msg": "unauthorized"}')
        if self.generation == "2.4":
            return self._answer(200, '{"msg": "OK"}')
        if action == "pause":
            ticket = f"t{len(self.requests)}"
            type(self).paused.add(ticket)
            body = (
                {"msg": "OK", "data": {"ticket": ticket}}
                if self.generation == "2.6.8-data"
                else {"msg": "OK", "ticket": ticket}
            )
            return self._answer(200, json.dumps(body))
        if query.get("ticket") not in self.paused:
            return self._answer(500, '{"msg": "failed to resume garbage collection, invalid ticket"}')
        type(self).paused.discard(query["ticket"])
        return self._answer(200, '{"msg": "OK"}')

    def _answer(self, status: int, body: str) -> None:
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Management.requests, _Management.paused = [], set()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Management)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_milvus_2_4_pauses_and_resumes_without_tickets(server: str) -> None:
    _Management.generation = "2.4"
    gc = ManagementGc(server)
    gc.pause(600)
    gc.resume()
    assert _Management.requests == [("pause", {"pause_seconds": "600", "collection_id": "0"}), ("resume", {})]


@pytest.mark.parametrize("generation", ["2.6.8", "2.6.8-data"])
def test_newer_milvus_gets_every_ticket_back_on_resume(server: str, generation: str) -> None:
    _Management.generation = generation
    warnings: list[str] = []
    with gc_paused([ManagementGc(server)], warnings.append, lease_seconds=0.2) as paused:  # type: ignore[arg-type]
        assert paused
        threading.Event().wait(0.35)  # at least one renewal (every half lease)
    pauses = [q for action, q in _Management.requests if action == "pause"]
    resumes = [q["ticket"] for action, q in _Management.requests if action == "resume"]
    assert len(pauses) >= 2 and len(resumes) == len(pauses)
    assert _Management.paused == set() and warnings == []


def test_a_resume_without_its_ticket_is_refused_by_newer_milvus_as_the_model_says(server: str) -> None:
    _Management.generation = "2.6.8"
    with pytest.raises(RuntimeError, match="answered 500"):
        ManagementGc(server)._get("resume", {})


def test_milvus_2_3_has_no_route_and_admin_auth_is_named(server: str) -> None:
    _Management.generation = "2.3"
    with pytest.raises(GcUnsupported, match="404"):
        ManagementGc(server).pause(600)
    _Management.generation = "auth"
    with pytest.raises(RuntimeError, match="admin credentials"):
        ManagementGc(server).pause(600)
