import json

import pytest

from milvus_backup.errors import UnsupportedFormatError
from milvus_backup.meta.manifest import Manifest, ManifestCollection, ManifestObject


def test_round_trip_with_one_object_per_line():
    manifest = Manifest(
        backup='b "ü"',
        objects=[
            ManifestObject("binlogs/insert_log/1/2/3/3/100/4", 12, "md5:9e107d9d372bb6826bd81d3542a419d6"),
            ManifestObject("binlogs/delta_log/1/2/3/3/5", 7, "crc32c:1a2b3c4d"),
        ],
        collections=[ManifestCollection("default", "books", 9, {"_default": 9}, {"3": 9})],
    )
    raw = manifest.to_json()
    assert Manifest.from_json(raw) == manifest
    lines = raw.decode().splitlines()
    assert [json.loads(line.rstrip(",]")) for line in lines if line.startswith('  {"key"')] == [
        {"key": o.key, "size": o.size, "checksum": o.checksum} for o in manifest.objects
    ]


def test_an_empty_manifest_is_valid_json():
    assert Manifest.from_json(Manifest("empty").to_json()) == Manifest("empty")


def test_damaged_or_foreign_manifests_are_refused():
    with pytest.raises(UnsupportedFormatError, match="damaged"):
        Manifest.from_json(Manifest("b").to_json()[:-5])
    with pytest.raises(UnsupportedFormatError, match="unknown manifest format"):
        Manifest.from_json(b'{"format": "other/1", "backup": "b", "objects": [], "collections": []}')
