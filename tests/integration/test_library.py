"""docs/library.md's example, run exactly as written against the real local-storage Milvus 2.3.5."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.conftest import fill_collection, local_config, write_config
from tests.rig.milvus import MilvusInstance

pytestmark = pytest.mark.integration

DOC = Path(__file__).parents[2] / "docs" / "library.md"


def test_the_documented_example_runs(milvus_local: MilvusInstance, tmp_path, monkeypatch, capsys):
    (example,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    fill_collection(milvus_local, "books")  # create_collection's quick setup: an index on the vector field
    write_config(tmp_path, local_config(milvus_local, tmp_path / "backups")).rename(tmp_path / "backup.yaml")
    monkeypatch.chdir(tmp_path)
    client = milvus_local.client()
    try:
        exec(compile(example, str(DOC), "exec"), {})  # our own documentation
        out = capsys.readouterr().out
        assert "nightly complete" in out
        assert "[('default.books_restored', 500)] []" in out  # no warnings
        assert "[('default.books', 500)]" in out
        assert "500 ['default/books/_default/part-00000-000.parquet']" in out
        assert (tmp_path / "export" / "default" / "books" / "_default" / "part-00000-000.parquet").is_file()
        assert client.get_collection_stats("books_restored")["row_count"] == 500
        assert not (tmp_path / "backups" / "nightly").exists()  # the example ends by deleting it
    finally:
        for name in ("books", "books_restored"):
            client.drop_collection(name)
        client.close()
