"""`meta/manifest.json`: ours, beyond upstream (which ignores unknown files).

Every object of the backup with its size and a content checksum, and the row counts Milvus reported per segment,
partition and collection, so that `verify` can prove a backup is intact and a restore can prove it is complete.

An incremental backup (format 2) also says, per object, which backup's folder holds its bytes when that is not its
own: an unchanged segment is referenced, not copied. Format 1 (no references) is still what a self-contained
backup writes, so that readers of format 1 go on reading it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from milvus_backup.errors import UnsupportedFormatError

MANIFEST_FORMAT = "milvus-backup-manifest/1"
#: Format 1 plus `backup` on objects held by another backup's folder.
MANIFEST_FORMAT_REFERENCES = "milvus-backup-manifest/2"


@dataclass
class ManifestObject:
    #: Relative to the backup folder, e.g. "binlogs/insert_log/1/2/3/3/100/4".
    key: str
    size: int
    #: "md5:<hex>" (as the storage service recorded it) or "crc32c:<hex>" (computed from the content).
    checksum: str
    #: The backup whose folder holds the bytes, when not this backup's own: always the backup that copied them,
    #: never one that references them in turn.
    backup: str = ""


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
    #: The create was told to copy without waiting for the deletes Milvus 2.2 held in memory
    #: (--accept-unflushed-deletes): rows deleted shortly before it may be in the backup. Written only when true.
    unflushed_deletes_accepted: bool = False

    @property
    def format(self) -> str:
        return MANIFEST_FORMAT_REFERENCES if self.owners() else MANIFEST_FORMAT

    def owners(self) -> list[str]:
        """The other backups whose folders hold bytes of this one, sorted."""
        return sorted({o.backup for o in self.objects if o.backup})

    def to_json(self) -> bytes:
        """One object per line, each by json's C encoder: `indent=` would fall back to the pure-Python encoder,
        which is slow for a backup of many segments."""
        objects = ",\n  ".join(json.dumps(_object_dict(o)) for o in self.objects)
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
            if data.get("format") not in (MANIFEST_FORMAT, MANIFEST_FORMAT_REFERENCES):
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


def _object_dict(obj: ManifestObject) -> dict[str, object]:
    out: dict[str, object] = {"key": obj.key, "size": obj.size, "checksum": obj.checksum}
    if obj.backup:
        out["backup"] = obj.backup
    return out
