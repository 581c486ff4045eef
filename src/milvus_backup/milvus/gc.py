"""Pausing Milvus's garbage collection, so no binlog vanishes while a backup copies it.

Two ways exist: the management HTTP API (`/management/datacoord/garbage_collection/pause`, Milvus >= 2.4) and,
where that answers 404 (Milvus 2.3), DataCoord's internal `GcControl` gRPC call.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import grpc
from pymilvus.grpc_gen import common_pb2

from milvus_backup.milvus.protocol import GcUnsupported

logger = logging.getLogger(__name__)

_GC_CONTROL = "/milvus.proto.data.DataCoord/GcControl"
_PAUSE, _RESUME = 1, 2  # datapb.GcCommand


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _gc_control_request(command: int, params: dict[str, str]) -> bytes:
    """datapb.GcControlRequest{command = 2, params = 3}, encoded by hand: pymilvus ships no datapb classes."""
    out = bytearray([0x10, command])
    for key, value in params.items():
        pair = common_pb2.KeyValuePair(key=key, value=value).SerializeToString()
        out += b"\x1a" + _varint(len(pair)) + pair
    return bytes(out)


class ManagementGc:
    """GC control through the management HTTP endpoint (port 9091).

    Milvus 2.4 to 2.6.7 answer `{"msg": "OK"}` (internal/proxy/management.go). Newer Milvus (>= 2.6.8, per
    upstream's feature table) also answers a ticket that the resume must hand back: upstream's client reads it
    as `data.ticket`, its notes as a top-level `ticket`, so both are read. `collection_id=0` asks for the
    cluster-wide pause, as upstream sends it; older servers ignore the parameter.
    """

    name = "management API"

    def __init__(self, endpoint: str, timeout: float = 10.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout
        #: Tickets of the pauses made (a renewal is a new pause), handed back on resume.
        self._tickets: list[str] = []

    def _get(self, action: str, params: dict[str, str]) -> dict[str, Any]:
        # The standard library's client: two small GETs do not justify an HTTP client's start-up cost.
        url = f"{self.endpoint}/management/datacoord/garbage_collection/{action}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:  # the configured endpoint
                body = response.read(4096).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise GcUnsupported(f"{url} answered 404 (Milvus before 2.4 has no such route)") from exc
            if exc.code in (401, 403):
                raise RuntimeError(f"{url} answered {exc.code}: this Milvus wants admin credentials there") from exc
            raise RuntimeError(f"{url} answered {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise GcUnsupported(f"{url}: {exc}") from exc
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or answer.get("msg") != "OK":
            raise RuntimeError(f"{url} answered: {body[:200]}")
        return answer

    def pause(self, seconds: int) -> None:
        answer = self._get("pause", {"pause_seconds": str(seconds), "collection_id": "0"})
        data = answer.get("data")
        ticket = answer.get("ticket") or (data.get("ticket") if isinstance(data, dict) else None)
        if ticket:
            self._tickets.append(str(ticket))

    def resume(self) -> None:
        """Resume with every ticket received, newest first (a server without tickets gets one plain resume)."""
        if not self._tickets:
            self._get("resume", {})
            return
        failures = []
        for ticket in reversed(self._tickets):
            try:
                self._get("resume", {"ticket": ticket})
            except RuntimeError as exc:
                failures.append(str(exc))
        self._tickets.clear()
        if failures:
            raise RuntimeError("; ".join(failures))


class DataCoordGc:
    """GC control through DataCoord's internal gRPC `GcControl` (what Milvus 2.3 offers)."""

    name = "DataCoord GcControl"

    def __init__(self, address: str, timeout: float = 10.0) -> None:
        if not address:
            raise GcUnsupported("milvus.dataCoord.address is not configured")
        self.address = address
        self.timeout = timeout

    def _call(self, command: int, params: dict[str, str]) -> None:
        with grpc.insecure_channel(self.address) as channel:
            call = channel.unary_unary(
                _GC_CONTROL, request_serializer=lambda b: b, response_deserializer=common_pb2.Status.FromString
            )
            try:
                status = call(_gc_control_request(command, params), timeout=self.timeout)
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                    raise GcUnsupported(f"{self.address} has no GcControl") from exc
                raise RuntimeError(f"GcControl at {self.address}: {exc.code().name} {exc.details()}") from exc
        if status.error_code != 0 or status.code != 0:
            raise RuntimeError(f"GcControl at {self.address}: {status.reason}")

    def pause(self, seconds: int) -> None:
        self._call(_PAUSE, {"duration": str(seconds)})

    def resume(self) -> None:
        self._call(_RESUME, {})
