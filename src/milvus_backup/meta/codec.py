"""Backup meta <-> upstream's JSON files (compact, proto field order, empty fields left out, enums as ints).

Reading is tolerant: unknown and legacy keys (`state_code`, `errorMessage`, `backuped`, `entries_num`, ...) are
ignored, missing ones take their defaults, and a backup without `full_meta.json` is rebuilt from the level
files as upstream does.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import typing
from typing import Any, TypeVar

from milvus_backup.errors import UnsupportedFormatError
from milvus_backup.meta.model import (
    BackupInfo,
    CollectionBackupInfo,
    PartitionBackupInfo,
    SegmentBackupInfo,
)

T = TypeVar("T")

#: The backup formats this tool can read; upstream's "snapshot" needs Milvus >= 3.0.
SUPPORTED_FORMATS = ("",)


def _json_key(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get("json", f.name))


@functools.cache
def _encoding_of(cls: type) -> tuple[tuple[str, str, bool], ...]:
    """(attribute, JSON key, written even when empty) per field: worked out once per class, not per object
    (a 1,000-segment backup has ~10,000 binlog objects)."""
    return tuple((f.name, _json_key(f), bool(f.metadata.get("always"))) for f in dataclasses.fields(cls))


_PLAIN = frozenset({int, str, float, bool, type(None)})


def to_dict(obj: Any) -> Any:
    cls = type(obj)
    if cls in _PLAIN:  # most values: checked first, a backup of many segments has millions of them
        return obj
    if cls is list:
        return [to_dict(item) for item in obj]
    if cls is dict:
        # Go's encoding/json writes map keys sorted.
        return {k: to_dict(obj[k]) for k in sorted(obj)}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for attr, json_key, always in _encoding_of(type(obj)):
            value = getattr(obj, attr)
            if value or always:
                out[json_key] = to_dict(value)
        return out
    if isinstance(obj, list):
        return [to_dict(item) for item in obj]
    if isinstance(obj, dict):
        return {k: to_dict(obj[k]) for k in sorted(obj)}
    return obj


def dumps(obj: Any) -> bytes:
    return _json_bytes(to_dict(obj))


_DECODINGS: dict[type, tuple[tuple[str, str, Any], ...]] = {}


def _decoding_of(cls: type) -> tuple[tuple[str, str, Any], ...]:
    """(attribute, JSON key, type) per field, worked out once per class: resolving a class's type hints is slow,
    and a backup of many segments has many objects of each class."""
    decoding = _DECODINGS.get(cls)
    if decoding is None:
        hints = typing.get_type_hints(cls)
        decoding = tuple((f.name, _json_key(f), hints[f.name]) for f in dataclasses.fields(cls))
        _DECODINGS[cls] = decoding
    return decoding


def from_dict(cls: type[T], data: Any) -> T:
    if not isinstance(data, dict):
        raise UnsupportedFormatError(detail=f"expected a JSON object for {cls.__name__}, got {type(data).__name__}")
    kwargs: dict[str, Any] = {}
    for attr, json_key, hint in _decoding_of(cls):
        value = data.get(json_key)
        if value is not None:
            kwargs[attr] = _convert(hint, value)
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_convert(item, v) for v in value]
    if origin is dict:
        return dict(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return from_dict(hint, value)
    if hint is int:
        return int(value)
    if hint is bool:
        return bool(value)
    if hint is str:
        return str(value)
    return value


def loads(cls: type[T], raw: bytes) -> T:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnsupportedFormatError(detail=f"backup meta is not valid JSON: {exc}") from exc
    return from_dict(cls, data)


# -- the five meta files ------------------------------------------------------------------------------


def backup_meta(info: BackupInfo) -> BackupInfo:
    """backup_meta.json: the top-level scalars only."""
    return BackupInfo(
        id=info.id,
        state_code=info.state_code,
        name=info.name,
        backup_timestamp=info.backup_timestamp,
        size=info.size,
        milvus_version=info.milvus_version,
        format=info.format,
    )


def level_files(full: dict[str, Any]) -> dict[str, Any]:
    """collection_meta.json, partition_meta.json and segment_meta.json, cut from full_meta.json's dict as
    upstream splits the tree (each segment is turned into a dict once, for both files)."""
    collections, partitions, segments = [], [], []
    for coll in full.get("collection_backups", []):
        stripped_parts = [
            {k: v for k, v in p.items() if k != "segment_backups"} for p in coll.get("partition_backups", [])
        ]
        # Key order is field order, as the dataclass gives it.
        collections.append(
            {k: stripped_parts if k == "partition_backups" else v for k, v in coll.items() if k != "l0_segments"}
        )
        partitions.extend(stripped_parts)
        for part in coll.get("partition_backups", []):
            segments.extend(part.get("segment_backups", []))
    return {
        "collection_meta.json": {"infos": collections},
        "partition_meta.json": {"infos": partitions},
        "segment_meta.json": {"infos": segments},
    }


def _json_bytes(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def encode_files(info: BackupInfo) -> dict[str, bytes]:
    """Every meta file by name."""
    full = to_dict(info)
    files = {"backup_meta.json": dumps(backup_meta(info))}
    for name, data in level_files(full).items():
        files[name] = _json_bytes(data)
    files["full_meta.json"] = _json_bytes(full)
    return files


def decode_files(files: dict[str, bytes]) -> BackupInfo:
    """The backup tree from its meta files: full_meta.json when present, else rebuilt from the level files."""
    info = loads(BackupInfo, files["full_meta.json"]) if "full_meta.json" in files else _rebuild(files)
    if info.format not in SUPPORTED_FORMATS:
        raise UnsupportedFormatError(
            detail=f"backup {info.name!r} has format {info.format!r}; this tool reads binlog backups only",
            hint="Restore snapshot-format backups (Milvus >= 3.0) with the Go milvus-backup.",
        )
    return info


def _rebuild(files: dict[str, bytes]) -> BackupInfo:
    info = loads(BackupInfo, files["backup_meta.json"])
    collections = [from_dict(CollectionBackupInfo, c) for c in _infos(files, "collection_meta.json")]
    partitions = [from_dict(PartitionBackupInfo, p) for p in _infos(files, "partition_meta.json")]
    segments = [from_dict(SegmentBackupInfo, s) for s in _infos(files, "segment_meta.json")]
    by_partition: dict[int, list[SegmentBackupInfo]] = {}
    for seg in segments:
        by_partition.setdefault(seg.partition_id, []).append(seg)
    by_collection: dict[int, list[PartitionBackupInfo]] = {}
    for part in partitions:
        part.segment_backups = by_partition.get(part.partition_id, [])
        part.size = sum(s.size for s in part.segment_backups)
        by_collection.setdefault(part.collection_id, []).append(part)
    for coll in collections:
        coll.partition_backups = by_collection.get(coll.collection_id, [])
        coll.size = sum(p.size for p in coll.partition_backups)
    info.collection_backups = collections
    info.size = sum(c.size for c in collections)
    return info


def _infos(files: dict[str, bytes], name: str) -> list[Any]:
    if name not in files:
        return []
    data = json.loads(files[name])
    return list(data.get("infos") or []) if isinstance(data, dict) else []
