"""The backup meta, as upstream's backup.proto defines it (binlog format).

Field order is the proto field-number order, and each field's JSON key is the proto field name as written
(`fieldID`, `autoID`, ... ); `codec.py` turns these into upstream's JSON and back. Fields marked `always` are
written even when empty (upstream strips `omitempty` from them); every other empty field is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def key(json_key: str, *, always: bool = False) -> dict[str, Any]:
    return {"json": json_key, "always": always}


def always() -> dict[str, Any]:
    return {"always": True}


@dataclass
class KeyValue:
    key: str = ""
    value: str = ""


@dataclass
class FieldSchema:
    field_id: int = field(default=0, metadata=key("fieldID"))
    name: str = ""
    is_primary_key: bool = False
    description: str = ""
    data_type: int = 0
    type_params: list[KeyValue] = field(default_factory=list)
    index_params: list[KeyValue] = field(default_factory=list)
    auto_id: bool = field(default=False, metadata=key("autoID"))
    state: int = 0
    element_type: int = 0
    is_dynamic: bool = False
    is_partition_key: bool = False
    nullable: bool = False
    #: Legacy: raw proto bytes of a ValueField in a JSON string (old backups only; read, never written).
    default_value_proto: str = ""
    is_function_output: bool = False
    #: base64 of a proto-marshalled schemapb.ValueField.
    default_value_base64: str = ""

    def type_param(self, name: str) -> str | None:
        return next((kv.value for kv in self.type_params if kv.key == name), None)


@dataclass
class FunctionSchema:
    name: str = ""
    id: int = 0
    description: str = ""
    type: int = 0
    input_field_names: list[str] = field(default_factory=list)
    input_field_ids: list[int] = field(default_factory=list)
    output_field_names: list[str] = field(default_factory=list)
    output_field_ids: list[int] = field(default_factory=list)
    params: list[KeyValue] = field(default_factory=list)


@dataclass
class CollectionSchema:
    name: str = ""
    description: str = ""
    auto_id: bool = field(default=False, metadata=key("autoID"))
    fields: list[FieldSchema] = field(default_factory=list)
    enable_dynamic_field: bool = False
    properties: list[KeyValue] = field(default_factory=list)
    functions: list[FunctionSchema] = field(default_factory=list)
    #: Kept as read (Milvus >= 2.6 struct fields); Milvus 2.3 never has them.
    struct_array_fields: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Binlog:
    #: The source key in the Milvus bucket (restore does not use it).
    log_path: str = ""
    log_size: int = field(default=0, metadata=always())
    log_id: int = 0


@dataclass
class FieldBinlog:
    field_id: int = field(default=0, metadata=key("fieldID"))
    binlogs: list[Binlog] = field(default_factory=list)


@dataclass
class SegmentBackupInfo:
    segment_id: int = 0
    collection_id: int = 0
    partition_id: int = 0
    num_of_rows: int = 0
    binlogs: list[FieldBinlog] = field(default_factory=list)
    statslogs: list[FieldBinlog] = field(default_factory=list)
    deltalogs: list[FieldBinlog] = field(default_factory=list)
    size: int = field(default=0, metadata=always())
    group_id: int = 0
    is_l0: bool = False
    v_channel: str = ""
    storage_version: int = 0


@dataclass
class PartitionBackupInfo:
    partition_id: int = 0
    partition_name: str = ""
    collection_id: int = 0
    segment_backups: list[SegmentBackupInfo] = field(default_factory=list)
    size: int = field(default=0, metadata=always())
    load_state: str = ""


@dataclass
class IndexInfo:
    field_name: str = ""
    index_name: str = ""
    index_type: str = ""
    params: dict[str, str] = field(default_factory=dict)
    index_id: int = 0


@dataclass
class CollectionBackupInfo:
    id: str = ""
    collection_id: int = 0
    db_name: str = ""
    collection_name: str = ""
    schema: CollectionSchema = field(default_factory=CollectionSchema)
    shards_num: int = 0
    consistency_level: int = 0
    partition_backups: list[PartitionBackupInfo] = field(default_factory=list)
    backup_timestamp: int = 0
    size: int = field(default=0, metadata=always())
    has_index: bool = field(default=False, metadata=always())
    index_infos: list[IndexInfo] = field(default_factory=list)
    load_state: str = ""
    backup_physical_timestamp: int = 0
    channel_checkpoints: dict[str, str] = field(default_factory=dict)
    l0_segments: list[SegmentBackupInfo] = field(default_factory=list)
    properties: list[KeyValue] = field(default_factory=list)
    db_id: int = 0
    created_timestamp: int = 0
    virtual_channel_names: list[str] = field(default_factory=list)
    physical_channel_names: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)


@dataclass
class DatabaseBackupInfo:
    db_name: str = ""
    db_id: int = 0
    properties: list[KeyValue] = field(default_factory=list)
    ezk: str = ""


@dataclass
class BackupInfo:
    id: str = ""
    state_code: int = field(default=0, metadata=always())
    name: str = ""
    backup_timestamp: int = 0
    collection_backups: list[CollectionBackupInfo] = field(default_factory=list)
    size: int = field(default=0, metadata=always())
    milvus_version: str = ""
    #: Users, roles, grants (only with --rbac), kept in upstream's shape.
    rbac_meta: dict[str, Any] = field(default_factory=dict)
    database_backups: list[DatabaseBackupInfo] = field(default_factory=list)
    #: "" is the binlog format; "snapshot" (Milvus >= 3.0) is refused by this tool.
    format: str = ""


@dataclass
class LevelInfos:
    """The `{"infos": [...]}` wrapper of collection_meta.json, partition_meta.json and segment_meta.json."""

    infos: list[Any] = field(default_factory=list)
