"""`meta/references.json`: ours, written only by an incremental backup.

It names the backup the incremental one was made against (`base`) and every backup whose folder holds bytes it
references (`owners`: the base, or the backups the base itself referenced), so that `list` can show the base and
`delete` can find a backup's dependents by reading one small file per backup instead of every manifest. The
manifest says which object lies where; this file is its summary, written before `backup_meta.json` and removed
by `consolidate` once the backup holds all its bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from milvus_backup.errors import UnsupportedFormatError

REFERENCES_FORMAT = "milvus-backup-references/1"


@dataclass
class References:
    backup: str
    base: str
    owners: list[str] = field(default_factory=list)

    def to_json(self) -> bytes:
        data = {"backup": self.backup, "base": self.base, "owners": sorted(self.owners), "format": REFERENCES_FORMAT}
        return (json.dumps(data) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes) -> References:
        try:
            data = json.loads(raw)
            if data.get("format") != REFERENCES_FORMAT:
                raise UnsupportedFormatError(detail=f"unknown references format {data.get('format')!r}")
            return cls(backup=str(data["backup"]), base=str(data["base"]), owners=[str(o) for o in data["owners"]])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UnsupportedFormatError(detail=f"references.json is damaged: {exc}") from exc
