import json

import pytest

from milvus_backup.errors import UnsupportedFormatError
from milvus_backup.meta import codec
from milvus_backup.meta.model import (
    BackupInfo,
    Binlog,
    CollectionBackupInfo,
    CollectionSchema,
    FieldBinlog,
    FieldSchema,
    KeyValue,
    PartitionBackupInfo,
    SegmentBackupInfo,
)


def sample() -> BackupInfo:
    seg = SegmentBackupInfo(
        segment_id=30,
        collection_id=10,
        partition_id=20,
        num_of_rows=5,
        binlogs=[
            FieldBinlog(0, [Binlog("files/insert_log/10/20/30/0/1", 12, 1)]),
            FieldBinlog(100, [Binlog("files/insert_log/10/20/30/100/2", 40, 2)]),
        ],
        deltalogs=[FieldBinlog(0, [Binlog("files/delta_log/10/20/30/3", 7, 3)])],
        size=59,
        group_id=30,
    )
    coll = CollectionBackupInfo(
        id="u1",
        collection_id=10,
        db_name="default",
        collection_name="c",
        schema=CollectionSchema(
            name="c",
            fields=[
                FieldSchema(field_id=100, name="pk", is_primary_key=True, data_type=5),
                FieldSchema(field_id=101, name="v", data_type=101, type_params=[KeyValue("dim", "4")]),
            ],
        ),
        shards_num=1,
        consistency_level=2,
        partition_backups=[PartitionBackupInfo(20, "_default", 10, [seg], 59, "Loaded")],
        size=59,
        has_index=False,
        index_infos=[],
        load_state="Loaded",
    )
    return BackupInfo(id="u1", name="b", collection_backups=[coll], size=59, milvus_version="v2.3.5")


def test_encoding_follows_upstream_rules():
    files = codec.encode_files(sample())
    assert list(files) == [
        "backup_meta.json",
        "collection_meta.json",
        "partition_meta.json",
        "segment_meta.json",
        "full_meta.json",
    ]
    assert files["backup_meta.json"] == (b'{"id":"u1","state_code":0,"name":"b","size":59,"milvus_version":"v2.3.5"}')
    full = json.loads(files["full_meta.json"])
    coll = full["collection_backups"][0]
    # proto field order, zero values left out except the always-written ones (size, has_index, state_code)
    assert list(coll) == [
        "id",
        "collection_id",
        "db_name",
        "collection_name",
        "schema",
        "shards_num",
        "consistency_level",
        "partition_backups",
        "size",
        "has_index",
        "load_state",
    ]
    assert coll["has_index"] is False
    assert coll["schema"]["fields"][0] == {"fieldID": 100, "name": "pk", "is_primary_key": True, "data_type": 5}
    seg = coll["partition_backups"][0]["segment_backups"][0]
    assert seg["binlogs"][0] == {
        "binlogs": [{"log_path": "files/insert_log/10/20/30/0/1", "log_size": 12, "log_id": 1}]
    }  # field 0 has no fieldID key
    assert seg["deltalogs"] == [{"binlogs": [{"log_path": "files/delta_log/10/20/30/3", "log_size": 7, "log_id": 3}]}]
    # level files: collections without segments, partitions without segments, segments alone
    level = json.loads(files["collection_meta.json"])["infos"][0]
    assert "segment_backups" not in level["partition_backups"][0]
    assert list(level) == list(coll)  # the same field order as full_meta.json
    assert json.loads(files["segment_meta.json"])["infos"][0]["segment_id"] == 30


def test_level_files_leave_l0_segments_to_full_meta():
    info = sample()
    l0 = SegmentBackupInfo(segment_id=40, collection_id=10, partition_id=-1, size=7, is_l0=True)
    info.collection_backups[0].l0_segments.append(l0)
    files = codec.encode_files(info)
    assert "l0_segments" not in json.loads(files["collection_meta.json"])["infos"][0]
    assert [s["segment_id"] for s in json.loads(files["segment_meta.json"])["infos"]] == [30]
    assert json.loads(files["full_meta.json"])["collection_backups"][0]["l0_segments"][0]["segment_id"] == 40
    assert codec.decode_files(files) == info


def test_round_trip_and_rebuild_from_level_files():
    info = sample()
    files = codec.encode_files(info)
    assert codec.decode_files(files) == info
    without_full = {k: v for k, v in files.items() if k != "full_meta.json"}
    rebuilt = codec.decode_files(without_full)
    assert (
        rebuilt.collection_backups[0].partition_backups[0].segment_backups
        == info.collection_backups[0].partition_backups[0].segment_backups
    )
    assert rebuilt.size == 59 and rebuilt.collection_backups[0].size == 59


def test_old_layouts_and_legacy_keys_are_read():
    legacy = {
        "id": "old",
        "state_code": 2,
        "name": "old_backup",
        "backup_timestamp": 440000000000000000,
        "errorMessage": "",
        "start_time": 1690000000,
        "end_time": 1690000100,
        "progress": 100,
        "collection_backups": [
            {
                "id": "old",
                "state_code": 2,
                "collection_id": 1,
                "collection_name": "legacy",
                "start_time": 1,
                "schema": {
                    "name": "legacy",
                    "fields": [
                        {"fieldID": 100, "name": "pk", "is_primary_key": True, "data_type": 5},
                        {
                            "fieldID": 101,
                            "name": "price",
                            "data_type": 10,
                            "default_value_proto": "\u0025\u0000\u0000\u00a0@",
                        },
                    ],
                },
                "partition_backups": [
                    {
                        "partition_id": 2,
                        "partition_name": "_default",
                        "collection_id": 1,
                        "segment_backups": [
                            {
                                "segment_id": 3,
                                "collection_id": 1,
                                "partition_id": 2,
                                "num_of_rows": 9,
                                "backuped": True,
                                "size": 100,
                                "binlogs": [
                                    {
                                        "fieldID": 100,
                                        "binlogs": [
                                            {
                                                "log_path": "p",
                                                "log_size": 100,
                                                "entries_num": 9,
                                                "timestamp_from": 1,
                                                "timestamp_to": 2,
                                            }
                                        ],
                                    }
                                ],
                            }
                        ],
                        "size": 100,
                    }
                ],
                "size": 100,
                "has_index": False,
            }
        ],
        "size": 100,
        "milvus_version": "v2.2.0",
    }
    info = codec.decode_files({"full_meta.json": json.dumps(legacy).encode(), "backup_meta.json": b"{}"})
    seg = info.collection_backups[0].partition_backups[0].segment_backups[0]
    assert seg.group_id == 0  # no group ids before ~0.4: restore imports the whole partition
    assert seg.binlogs[0].binlogs[0].log_size == 100
    assert info.collection_backups[0].db_name == ""  # pre-database backups: the default database
    assert info.collection_backups[0].schema.fields[1].default_value_proto


def test_snapshot_format_and_garbage_are_refused():
    with pytest.raises(UnsupportedFormatError, match="snapshot"):
        codec.decode_files({"full_meta.json": b'{"name":"s","format":"snapshot"}', "backup_meta.json": b"{}"})
    with pytest.raises(UnsupportedFormatError, match="not valid JSON"):
        codec.decode_files({"full_meta.json": b"{nope", "backup_meta.json": b"{}"})
