"""The calls a restore makes: create databases, collections, partitions, indexes, aliases; import; load; RBAC.

A mixin of `MilvusConnection`, which gives it `call` (one raw RPC, errors translated), `address` and
`rbac_meta`."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from google.protobuf import json_format
from pymilvus.grpc_gen import common_pb2, milvus_pb2

from milvus_backup.errors import MilvusError
from milvus_backup.meta.model import CollectionSchema, IndexInfo, KeyValue
from milvus_backup.milvus import convert, rows
from milvus_backup.milvus.protocol import ImportOutcome, RbacRestored, RowBatch

_IMPORT_DONE = (common_pb2.ImportCompleted, common_pb2.ImportFailed, common_pb2.ImportFailedAndCleaned)


def _kv(pairs: dict[str, str]) -> list[common_pb2.KeyValuePair]:
    return [common_pb2.KeyValuePair(key=k, value=v) for k, v in pairs.items()]


class MilvusWrites:
    def call(self, method: str, request: Any, what: str) -> Any:
        raise NotImplementedError

    @property
    def address(self) -> str:
        raise NotImplementedError

    def rbac_meta(self) -> dict[str, Any]:
        raise NotImplementedError

    def create_database(self, db: str, properties: list[KeyValue]) -> None:
        request = milvus_pb2.CreateDatabaseRequest(db_name=db, properties=_kv({p.key: p.value for p in properties}))
        self.call("CreateDatabase", request, f"create database {db}")

    def drop_collection(self, db: str, name: str) -> None:
        self.call(
            "DropCollection",
            milvus_pb2.DropCollectionRequest(db_name=db, collection_name=name),
            f"drop collection {db}.{name}",
        )

    def create_collection(
        self,
        db: str,
        name: str,
        schema: CollectionSchema,
        *,
        shards_num: int,
        consistency_level: int,
        num_partitions: int,
        properties: list[KeyValue],
    ) -> None:
        request = milvus_pb2.CreateCollectionRequest(
            db_name=db,
            collection_name=name,
            schema=convert.schema_proto(schema, name),
            shards_num=shards_num,
            consistency_level=consistency_level,
            num_partitions=num_partitions,
            properties=_kv({kv.key: kv.value for kv in properties}),
        )
        self.call("CreateCollection", request, f"create collection {db}.{name}")

    def alter_collection_properties(self, db: str, name: str, properties: list[KeyValue]) -> None:
        self.call(
            "AlterCollection",
            milvus_pb2.AlterCollectionRequest(
                db_name=db, collection_name=name, properties=_kv({kv.key: kv.value for kv in properties})
            ),
            f"alter collection {db}.{name}",
        )

    def create_partition(self, db: str, collection: str, partition: str) -> None:
        self.call(
            "CreatePartition",
            milvus_pb2.CreatePartitionRequest(db_name=db, collection_name=collection, partition_name=partition),
            f"create partition {partition} of {db}.{collection}",
        )

    def drop_index(self, db: str, collection: str, index: IndexInfo) -> None:
        self.call(
            "DropIndex",
            milvus_pb2.DropIndexRequest(
                db_name=db, collection_name=collection, field_name=index.field_name, index_name=index.index_name
            ),
            f"drop index {index.index_name} of {db}.{collection}",
        )

    def create_index(self, db: str, collection: str, field: str, index_name: str, params: dict[str, str]) -> None:
        """`params` as DescribeIndex gave them: index_type, metric_type and the build parameters, either flat
        (Milvus 2.3: M, efConstruction) or already packed in a `params` JSON string (newer Milvus)."""
        extra = {k: v for k, v in params.items() if k in ("index_type", "metric_type", "params")}
        build = {k: v for k, v in params.items() if k not in extra}
        if build and "params" not in extra:
            extra["params"] = json.dumps({k: _number(v) for k, v in build.items()})
        self.call(
            "CreateIndex",
            milvus_pb2.CreateIndexRequest(
                db_name=db, collection_name=collection, field_name=field, index_name=index_name, extra_params=_kv(extra)
            ),
            f"create index on {db}.{collection}.{field}",
        )

    def create_alias(self, db: str, collection: str, alias: str) -> None:
        self.call(
            "CreateAlias",
            milvus_pb2.CreateAliasRequest(db_name=db, collection_name=collection, alias=alias),
            f"create alias {alias} of {db}.{collection}",
        )

    def start_import(
        self, db: str, collection: str, partition: str, files: list[str], options: dict[str, str]
    ) -> list[int]:
        response = self.call(
            "Import",
            milvus_pb2.ImportRequest(
                db_name=db, collection_name=collection, partition_name=partition, files=files, options=_kv(options)
            ),
            f"import into {db}.{collection}/{partition}",
        )
        return list(response.tasks)

    def import_state(self, task: int) -> ImportOutcome | None:
        state = self.call("GetImportState", milvus_pb2.GetImportStateRequest(task=task), f"state of import task {task}")
        if state.state not in _IMPORT_DONE:
            return None
        infos = {kv.key: kv.value for kv in state.infos}
        return ImportOutcome(
            task, state.state == common_pb2.ImportCompleted, state.row_count, infos.get("failed_reason", "")
        )

    def row_count(self, db: str, collection: str) -> int:
        response = self.call(
            "GetCollectionStatistics",
            milvus_pb2.GetCollectionStatisticsRequest(db_name=db, collection_name=collection),
            f"statistics of {db}.{collection}",
        )
        stats = {kv.key: kv.value for kv in response.stats}
        return int(stats.get("row_count", 0))

    def count_rows(self, db: str, collection: str) -> int:
        request = milvus_pb2.QueryRequest(
            db_name=db,
            collection_name=collection,
            expr="",
            output_fields=["count(*)"],
            consistency_level=common_pb2.Strong,
            use_default_consistency=False,
        )
        response = self.call("Query", request, f"count(*) of {db}.{collection}")
        for data in response.fields_data:
            if data.field_name == "count(*)" and data.scalars.long_data.data:
                return int(data.scalars.long_data.data[0])
        raise MilvusError(address=self.address, detail=f"count(*) of {db}.{collection}: no count in the answer")

    def insert_rows(self, db: str, collection: str, partition: str, schema: CollectionSchema, batch: RowBatch) -> int:
        request = milvus_pb2.InsertRequest(
            db_name=db,
            collection_name=collection,
            partition_name=partition,
            fields_data=rows.fields_data(schema, batch.columns),
            num_rows=batch.num_rows,
        )
        return int(self.call("Insert", request, f"insert into {db}.{collection}/{partition or '*'}").insert_cnt)

    def load_collection(self, db: str, collection: str) -> None:
        self.call(
            "LoadCollection",
            milvus_pb2.LoadCollectionRequest(db_name=db, collection_name=collection),
            f"load {db}.{collection}",
        )

    def loading_progress(self, db: str, collection: str) -> int:
        return int(
            self.call(
                "GetLoadingProgress",
                milvus_pb2.GetLoadingProgressRequest(db_name=db, collection_name=collection),
                f"loading progress of {db}.{collection}",
            ).progress
        )

    def call_if_implemented(self, method: str, request: Any, what: str) -> Any | None:
        raise NotImplementedError

    def restore_rbac(self, meta: dict[str, Any]) -> RbacRestored:
        """Create the users, roles, grants and privilege groups of `meta` that the target lacks, and bind existing
        users to the roles of theirs they lack; what exists stays as it is.

        Milvus >= 2.4.10 (milvus#35444) takes the missing part in one RestoreRBAC call, users with the stored
        credential BackupRBAC gave. Older Milvus gets one call per role, grant and binding, and users are not
        created: a backup of those holds no usable password."""
        existing = self.rbac_meta()
        missing = missing_rbac(existing, meta)
        # A user backed up without its credential (from a Milvus before 2.4.10) cannot be created.
        no_credential = [u["user"] for u in missing["users"] if not u.get("password")]
        missing["users"] = [u for u in missing["users"] if u.get("password")]
        done = RbacRestored(users_not_created=no_credential)
        if any(missing.values()):
            if self.call_if_implemented("RestoreRBAC", restore_rbac_request(missing), "restore RBAC") is not None:
                done = RbacRestored(
                    len(missing["roles"]), len(missing["grants"]), 0, no_credential, len(missing["users"])
                )
            else:
                done = self._restore_rbac_call_by_call(missing)
                done = replace(done, users_not_created=no_credential + done.users_not_created)
        have_users = {u["user"]: {r["name"] for r in u.get("roles", [])} for u in existing.get("users", [])}
        bindings = 0
        for user in meta.get("users", []):
            name = user["user"]
            for role in user.get("roles", []) if name in have_users else []:
                if role["name"] not in have_users[name]:
                    self.call(
                        "OperateUserRole",
                        milvus_pb2.OperateUserRoleRequest(
                            username=name, role_name=role["name"], type=milvus_pb2.AddUserToRole
                        ),
                        f"add user {name} to role {role['name']}",
                    )
                    bindings += 1
        return replace(done, bindings=done.bindings + bindings)

    def _restore_rbac_call_by_call(self, missing: dict[str, list[dict[str, Any]]]) -> RbacRestored:
        for role in missing["roles"]:
            self.call(
                "CreateRole",
                milvus_pb2.CreateRoleRequest(entity=milvus_pb2.RoleEntity(name=role["name"])),
                f"create role {role['name']}",
            )
        for grant in missing["grants"]:
            entity = json_format.ParseDict(grant, milvus_pb2.GrantEntity(), ignore_unknown_fields=True)
            self.call(
                "OperatePrivilege",
                milvus_pb2.OperatePrivilegeRequest(entity=entity, type=milvus_pb2.Grant),
                f"grant {_grant_key(grant)}",
            )
        return RbacRestored(len(missing["roles"]), len(missing["grants"]), 0, [u["user"] for u in missing["users"]])


def restore_rbac_request(meta: dict[str, Any]) -> milvus_pb2.RestoreRBACMetaRequest:
    """An RBACMeta in upstream's JSON shape (the proto's field names) as RestoreRBAC's request."""
    rbac = json_format.ParseDict(meta, milvus_pb2.RBACMeta(), ignore_unknown_fields=True)
    return milvus_pb2.RestoreRBACMetaRequest(RBAC_meta=rbac)


def missing_rbac(existing: dict[str, Any], backup: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The part of `backup` (an RBACMeta as a dict) that `existing` lacks: users, roles and privilege groups by
    name, grants by object, object name, role, privilege and database."""
    have_users = {u["user"] for u in existing.get("users", [])}
    have_roles = {r["name"] for r in existing.get("roles", [])}
    have_grants = {_grant_key(g) for g in existing.get("grants", [])}
    have_groups = {g["group_name"] for g in existing.get("privilege_groups", [])}
    return {
        "users": [u for u in backup.get("users", []) if u["user"] not in have_users],
        "roles": [r for r in backup.get("roles", []) if r["name"] not in have_roles],
        "grants": [g for g in backup.get("grants", []) if _grant_key(g) not in have_grants],
        "privilege_groups": [g for g in backup.get("privilege_groups", []) if g["group_name"] not in have_groups],
    }


def _grant_key(grant: dict[str, Any]) -> tuple[str, ...]:
    return (
        grant.get("object", {}).get("name", ""),
        grant.get("object_name", ""),
        grant.get("role", {}).get("name", ""),
        grant.get("grantor", {}).get("privilege", {}).get("name", ""),
        grant.get("db_name", ""),
    )


def _number(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value
