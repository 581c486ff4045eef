"""`meta/manifest.json`: ours, beyond upstream (which ignores unknown files).

Every object of the backup with its size and a content checksum, and the row counts Milvus reported per segment,
partition and collection, so that `verify` can prove a backup is intact and a restore can prove it is complete.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from milvus_backup.errors import UnsupportedFormatError

MANIFEST_FORMAT = "milvus-backup-manifest/1"


@dataclass
class ManifestObject:
    #: Relative to the backup folder, e.g. "binlogs/insert_log/1/2/3/3/100/4".
    key: str
    size: int
    #: "md5:<hex>" (as the storage service recorded it) or "crc32c:<hex>" (computed from the content).
    checksum: str


PROVEN, UNPROVEN, SKIPPED = "proven", "unproven", "skipped"


@dataclass
class RowProof:
    """The row-count proof of a create: the live rows the copied binlogs hold (their deletes applied) against
    Milvus's own `count(*)` before the flush and after the copy."""

    #: proven (the counts agree, and Milvus's did not change during the backup), unproven (`reason` says why no
    #: comparison could be made), or skipped (`--no-proof`, a backup without data).
    state: str
    reason: str = ""
    #: Live rows in the backup's binlogs; None when not computed.
    backup_rows: int | None = None
    #: Milvus's count(*) before the flush and after the copy; None when Milvus could not count.
    count_before: int | None = None
    count_after: int | None = None

    def brief(self) -> str:
        """One phrase: `proven (1000 rows)`, `unproven: not loaded`, `skipped`."""
        if self.state == PROVEN:
            return f"proven ({self.backup_rows} rows)"
        return f"{self.state}: {self.reason}" if self.reason else self.state


@dataclass
class ManifestCollection:
    db: str
    collection: str
    #: Rows in the backed-up segments as Milvus counts them (rows deleted later are included: the delta logs
    #: carry the deletes).
    segment_rows: int
    partitions: dict[str, int] = field(default_factory=dict)
    segments: dict[str, int] = field(default_factory=dict)
    #: The row-count proof; None in manifests written before there was one.
    proof: RowProof | None = None


@dataclass
class Manifest:
    backup: str
    objects: list[ManifestObject] = field(default_factory=list)
    collections: list[ManifestCollection] = field(default_factory=list)
    format: str = MANIFEST_FORMAT
    #: The create was told to copy without waiting for the deletes Milvus 2.2 held in memory
    #: (--accept-unflushed-deletes): rows deleted shortly before it may be in the backup. Written only when true.
    unflushed_deletes_accepted: bool = False

    def to_json(self) -> bytes:
        """One object per line, each by json's C encoder: `indent=` would fall back to the pure-Python encoder,
        which is slow for a backup of many segments."""
        objects = ",\n  ".join(json.dumps({"key": o.key, "size": o.size, "checksum": o.checksum}) for o in self.objects)
        collections = ",\n  ".join(json.dumps(asdict(c)) for c in self.collections)
        accepted = ',\n "unflushed_deletes_accepted": true' if self.unflushed_deletes_accepted else ""
        return (
            f'{{"backup": {json.dumps(self.backup)},\n "objects": [\n  {objects}],\n'
            f' "collections": [\n  {collections}],\n "format": {json.dumps(self.format)}{accepted}}}\n'
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
            if data.get("format") != MANIFEST_FORMAT:
                raise UnsupportedFormatError(detail=f"unknown manifest format {data.get('format')!r}")
            return cls(
                backup=data["backup"],
                objects=[ManifestObject(**o) for o in data["objects"]],
                collections=[_collection(c) for c in data["collections"]],
                unflushed_deletes_accepted=data.get("unflushed_deletes_accepted") is True,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise UnsupportedFormatError(detail=f"manifest.json is damaged: {exc}") from exc


def _collection(data: dict[str, Any]) -> ManifestCollection:
    proof = data.pop("proof", None)
    return ManifestCollection(**data, proof=RowProof(**proof) if proof is not None else None)
