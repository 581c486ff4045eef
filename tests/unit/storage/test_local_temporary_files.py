"""Local writes go through `<root>/.milvus-backup-tmp/`: a write killed halfway leaves nothing inside the folders
that a backup lists or Milvus imports, and debris that older versions left next to objects goes with a delete."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from milvus_backup.storage.local import LocalStorage

KILLED_WRITER = """
import io, sys, time
from milvus_backup.storage.local import LocalStorage

class Slow(io.RawIOBase):
    sent = 0
    def readable(self): return True
    def readinto(self, buffer):
        if self.sent:
            print("writing", flush=True)
            time.sleep(60)
        buffer[:4] = b"half"
        self.sent += 4
        return 4

LocalStorage(sys.argv[1]).put_stream("backup/killed/binlogs/insert_log/1/2/3/3/100/4", Slow(), 1 << 20)
"""


def test_a_write_killed_halfway_leaves_nothing_in_the_objects_folder(tmp_path: Path) -> None:
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None and writer.stdout.readline() == "writing\n"
    writer.kill()
    writer.wait()
    debris = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p.parent.name for p in debris] == [".milvus-backup-tmp"]  # the half-written file, and only there
    storage = LocalStorage(tmp_path)
    assert list(storage.list("")) == [] and storage.list_dirs("") == []
    assert not (tmp_path / "backup").exists()


def test_delete_of_a_folder_removes_debris_that_older_versions_left_next_to_objects(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.put("backup/old/binlogs/a", b"object")
    (tmp_path / "backup/old/binlogs/b.milvus-backup-tmp-0123abcd").write_bytes(b"half")
    (tmp_path / "backup/old/deeper").mkdir()
    (tmp_path / "backup/old/deeper/c.milvus-backup-tmp-4567").write_bytes(b"half")
    assert [i.key for i in storage.list("backup/old/")] == ["backup/old/binlogs/a"]
    assert storage.delete_prefix("backup/old/") == 1
    assert not (tmp_path / "backup").exists()
