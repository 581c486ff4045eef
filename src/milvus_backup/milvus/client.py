"""The one door to Milvus: pymilvus stays inside this package, callers see our own types and errors."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import grpc
from google.protobuf import json_format
from pymilvus import MilvusClient
from pymilvus.exceptions import MilvusException
from pymilvus.grpc_gen import common_pb2, milvus_pb2

from milvus_backup.errors import (
    CollectionNotFoundError,
    DatabaseNotFoundError,
    MilvusAuthError,
    MilvusError,
    MilvusTooOldError,
    MilvusUnavailableError,
)
from milvus_backup.meta.model import IndexInfo, KeyValue
from milvus_backup.milvus import convert
from milvus_backup.milvus.protocol import (
    OLDEST_SUPPORTED,
    CollectionDescription,
    FlushResult,
    Partition,
    Segment,
    parse_version,
)
from milvus_backup.milvus.writer import MilvusWrites

logger = logging.getLogger(__name__)

TlsMode = Literal["disabled", "server", "mutual"]

# Words Milvus and pymilvus use when the credentials are wrong (there is no dedicated error code on 2.3).
_AUTH_WORDS = ("auth", "username", "password", "credential", "unauthenticated")


@dataclass(frozen=True)
class MilvusParams:
    address: str
    port: int
    user: str = ""
    password: str = ""
    tls_mode: TlsMode = "disabled"
    ca_cert_path: str = ""
    server_name: str = ""
    mtls_cert_path: str = ""
    mtls_key_path: str = ""
    timeout: float = 30.0

    @property
    def endpoint(self) -> str:
        return f"{self.address}:{self.port}"

    def __repr__(self) -> str:  # never show the password
        return f"MilvusParams({self.endpoint}, user={self.user!r}, tls={self.tls_mode})"


@contextlib.contextmanager
def translate_errors(address: str) -> Iterator[None]:
    """Turn pymilvus and gRPC failures into our errors, once, here."""
    try:
        yield
    except MilvusException as exc:
        # pymilvus wraps a refused login into "Fail connecting to server": the gRPC cause tells the truth.
        if isinstance(exc.__cause__, grpc.RpcError):
            raise _from_rpc_error(address, exc.__cause__) from exc
        raise _classify(address, exc.message or str(exc), unavailable=exc.code == 2) from exc
    except grpc.RpcError as exc:
        raise _from_rpc_error(address, exc) from exc


def _from_rpc_error(address: str, exc: grpc.RpcError) -> MilvusError:
    code = exc.code() if hasattr(exc, "code") else None
    detail = (exc.details() if hasattr(exc, "details") else "") or str(code)
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return MilvusAuthError(address=address, detail=detail)
    unavailable = code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    return _classify(address, detail, unavailable=unavailable)


def _classify(address: str, detail: str, *, unavailable: bool) -> MilvusError:
    if any(word in detail.lower() for word in _AUTH_WORDS) and "connecting" not in detail.lower():
        return MilvusAuthError(address=address, detail=detail)
    if unavailable:
        return MilvusUnavailableError(address=address, detail=detail)
    return MilvusError(address=address, detail=detail)


def _check(status: Any, address: str, what: str) -> None:
    code = getattr(status, "code", 0)
    error_code = getattr(status, "error_code", 0)
    if code == 0 and error_code == 0:
        return
    reason = status.reason or f"error code {code or error_code}"
    raise MilvusError(address=address, detail=f"{what}: {reason}")


_OLDEST = ".".join(str(part) for part in OLDEST_SUPPORTED)


@contextlib.contextmanager
def _refusing_old_servers(address: str) -> Iterator[None]:
    """Milvus before 2.2.9 lacks the Connect call pymilvus opens every connection with: say so, not gRPC's words."""
    try:
        yield
    except MilvusError as exc:
        if "unknown method connect" in str(exc).lower():
            raise MilvusTooOldError(
                address=address, version="older than 2.2.9 (no Connect call)", minimum=_OLDEST
            ) from exc
        raise


class MilvusConnection(MilvusWrites):
    """A connection to one Milvus proxy (implements `protocol.MilvusClient`)."""

    def __init__(self, params: MilvusParams) -> None:
        self.params = params
        self._address = params.endpoint
        scheme = "https" if params.tls_mode != "disabled" else "http"
        tls: dict[str, object] = {}
        if params.tls_mode == "server":
            tls = {"secure": True, "server_pem_path": params.ca_cert_path, "server_name": params.server_name}
        elif params.tls_mode == "mutual":
            tls = {
                "secure": True,
                "ca_pem_path": params.ca_cert_path,
                "client_pem_path": params.mtls_cert_path,
                "client_key_path": params.mtls_key_path,
                "server_name": params.server_name,
            }
        with _refusing_old_servers(self.address), translate_errors(self.address):
            self._client = MilvusClient(
                uri=f"{scheme}://{params.endpoint}",
                user=params.user,
                password=params.password,
                timeout=params.timeout,
                dedicated=True,
                **tls,
            )
            # Connecting alone does not prove the credentials: a real call does.
            self._version = str(self._client.get_server_version())
        if parse_version(self._version) < OLDEST_SUPPORTED:
            self.close()
            raise MilvusTooOldError(address=self.address, version=self._version, minimum=_OLDEST)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.close()

    def __enter__(self) -> MilvusConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def address(self) -> str:
        return self._address

    @property
    def server_version(self) -> str:
        return self._version

    def list_databases(self) -> list[str]:
        with translate_errors(self.address):
            return sorted(self._client.list_databases())

    @property
    def _stub(self) -> Any:
        """The raw gRPC stub: MilvusClient lacks the calls a backup tool needs (persistent segments, Import with
        options, RBAC backup, ...)."""
        return self._client._get_connection()._stub

    def call(self, method: str, request: Any, what: str) -> Any:
        """One raw RPC; a non-success status becomes a MilvusError saying `what` failed."""
        stub = self._stub
        with translate_errors(self.address):
            response = getattr(stub, method)(request, timeout=self.params.timeout)
        _check(response.status if hasattr(response, "status") else response, self.address, what)
        return response

    def call_if_implemented(self, method: str, request: Any, what: str) -> Any | None:
        """One raw RPC, or None where this Milvus does not have it (an older version)."""
        stub = self._stub
        try:
            response = getattr(stub, method)(request, timeout=self.params.timeout)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                return None
            raise _from_rpc_error(self.address, exc) from exc
        _check(response.status if hasattr(response, "status") else response, self.address, what)
        return response

    def list_collections(self, db: str) -> list[str]:
        if db not in self.list_databases():
            raise DatabaseNotFoundError(database=db, address=self.address)
        response = self.call(
            "ShowCollections", milvus_pb2.ShowCollectionsRequest(db_name=db), f"list collections of {db}"
        )
        return sorted(response.collection_names)

    def has_collection(self, db: str, name: str) -> bool:
        return name in self.list_collections(db)

    def describe_collection(self, db: str, name: str) -> CollectionDescription:
        if not self.has_collection(db, name):
            raise CollectionNotFoundError(collection=name, database=db, address=self.address)
        r = self.call(
            "DescribeCollection",
            milvus_pb2.DescribeCollectionRequest(db_name=db, collection_name=name),
            f"describe collection {db}.{name}",
        )
        aliases = list(r.aliases) or self._list_aliases(db, name)
        return CollectionDescription(
            collection_id=r.collectionID,
            db_name=db,
            name=name,
            schema=convert.collection_schema(r.schema),
            shards_num=r.shards_num,
            consistency_level=int(r.consistency_level),
            properties=convert.key_values(r.properties),
            created_timestamp=r.created_timestamp,
            virtual_channel_names=list(r.virtual_channel_names),
            physical_channel_names=list(r.physical_channel_names),
            aliases=aliases,
        )

    def _list_aliases(self, db: str, name: str) -> list[str]:
        """Milvus 2.3 leaves DescribeCollection.aliases empty and answers ListAliases; Milvus 2.2 fills the former
        and lacks the latter, so there an empty list is the answer."""
        try:
            r = self._stub.ListAliases(
                milvus_pb2.ListAliasesRequest(db_name=db, collection_name=name), timeout=self.params.timeout
            )
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                return []
            raise _from_rpc_error(self.address, exc) from exc
        _check(r.status, self.address, f"list aliases of {db}.{name}")
        return sorted(r.aliases)

    def list_partitions(self, db: str, collection: str) -> list[Partition]:
        r = self.call(
            "ShowPartitions",
            milvus_pb2.ShowPartitionsRequest(db_name=db, collection_name=collection),
            f"list partitions of {db}.{collection}",
        )
        return [Partition(pid, name) for name, pid in zip(r.partition_names, r.partitionIDs, strict=True)]

    def describe_indexes(self, db: str, collection: str) -> list[IndexInfo]:
        stub = self._stub
        with translate_errors(self.address):
            r = stub.DescribeIndex(
                milvus_pb2.DescribeIndexRequest(db_name=db, collection_name=collection), timeout=self.params.timeout
            )
        if r.status.error_code == common_pb2.IndexNotExist or "index not found" in r.status.reason.lower():
            return []
        _check(r.status, self.address, f"describe indexes of {db}.{collection}")
        return [convert.index_info(d) for d in r.index_descriptions]

    def load_state(self, db: str, collection: str) -> str:
        r = self.call(
            "GetLoadState",
            milvus_pb2.GetLoadStateRequest(db_name=db, collection_name=collection),
            f"load state of {db}.{collection}",
        )
        return {common_pb2.LoadStateLoaded: "Loaded", common_pb2.LoadStateLoading: "Loading"}.get(r.state, "NotLoad")

    def describe_database(self, db: str) -> tuple[int, list[KeyValue]]:
        """(db id, properties); (0, []) on Milvus before 2.4.3, which has no DescribeDatabase."""
        stub = self._stub
        try:
            r = stub.DescribeDatabase(milvus_pb2.DescribeDatabaseRequest(db_name=db), timeout=self.params.timeout)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                return 0, []
            raise _classify(self.address, exc.details() or str(exc.code()), unavailable=True) from exc
        _check(r.status, self.address, f"describe database {db}")
        return r.dbID, convert.key_values(r.properties)

    def flush(self, db: str, collection: str) -> FlushResult:
        r = self.call(
            "Flush", milvus_pb2.FlushRequest(db_name=db, collection_names=[collection]), f"flush {db}.{collection}"
        )
        segment_ids = list(r.coll_segIDs[collection].data) if collection in r.coll_segIDs else []
        return FlushResult(segment_ids, r.coll_flush_ts.get(collection, 0), r.coll_seal_times.get(collection, 0))

    def flushed(self, db: str, collection: str, flush: FlushResult) -> bool:
        request = milvus_pb2.GetFlushStateRequest(
            segmentIDs=flush.segment_ids, flush_ts=flush.flush_ts, db_name=db, collection_name=collection
        )
        return bool(self.call("GetFlushState", request, f"flush state of {db}.{collection}").flushed)

    def timestamp(self) -> int:
        return int(self.call("AllocTimestamp", milvus_pb2.AllocTimestampRequest(), "allocate a timestamp").timestamp)

    def all_written_up_to(self, ts: int) -> bool:
        request = milvus_pb2.GetFlushAllStateRequest(flush_all_ts=ts)
        return bool(self.call("GetFlushAllState", request, "flush state of every channel").flushed)

    def rbac_meta(self) -> dict[str, Any]:
        """Users, roles, grants and privilege groups in upstream's RBACMeta shape.

        Milvus >= 2.4 answers BackupRBAC (users with their stored credentials). Milvus 2.3 has no such call: the
        same meta is assembled from the Select* calls, without passwords, which Milvus never reveals.
        """
        stub = self._stub
        try:
            r = stub.BackupRBAC(milvus_pb2.BackupRBACMetaRequest(), timeout=self.params.timeout)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise _classify(self.address, exc.details() or str(exc.code()), unavailable=True) from exc
            return self._rbac_from_select_calls()
        _check(r.status, self.address, "back up RBAC")
        return json_format.MessageToDict(r.RBAC_meta, preserving_proto_field_name=True)

    def _rbac_from_select_calls(self) -> dict[str, Any]:
        users = self.call("SelectUser", milvus_pb2.SelectUserRequest(include_role_info=True), "list users")
        roles = self.call("SelectRole", milvus_pb2.SelectRoleRequest(include_user_info=False), "list roles")
        meta = milvus_pb2.RBACMeta()
        for result in users.results:
            meta.users.add(user=result.user.name, roles=list(result.roles))
        for result in roles.results:
            meta.roles.add(name=result.role.name)
            grants = self.call(
                "SelectGrant",
                milvus_pb2.SelectGrantRequest(entity=milvus_pb2.GrantEntity(role=result.role)),
                f"list grants of role {result.role.name}",
            )
            meta.grants.extend(grants.entities)
        return json_format.MessageToDict(meta, preserving_proto_field_name=True)

    def persistent_segments(self, db: str, collection: str) -> list[Segment]:
        """Segments persisted in storage, in state Flushed only (dropped or compacted ones wait for GC)."""
        r = self.call(
            "GetPersistentSegmentInfo",
            milvus_pb2.GetPersistentSegmentInfoRequest(dbName=db, collectionName=collection),
            f"persistent segments of {db}.{collection}",
        )
        segments = []
        for info in r.infos:
            if info.state != common_pb2.Flushed:
                continue
            segments.append(
                Segment(
                    segment_id=info.segmentID,
                    collection_id=info.collectionID,
                    partition_id=info.partitionID,
                    num_rows=info.num_rows,
                    state=common_pb2.SegmentState.Name(info.state),
                    is_l0=info.level == common_pb2.L0,
                    storage_version=info.storage_version,
                    channel=info.insert_channel,
                )
            )
        return segments
