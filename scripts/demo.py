"""The README's first command: milvus-backup on an embedded Milvus 2.3.5 with local storage.

It starts Milvus (the same launcher the test suite uses), fills a sample collection, writes a backup.yaml for
it and runs the tool as a user would, printing each command. Everything lives in a temporary directory that
is removed at the end, and Milvus is stopped whatever happens.

It needs the package and its `demo` extra only (the embedded Milvus): tests/rig/milvus.py imports nothing else
at load time. tests/integration/test_packaging.py runs this demo from a copy of the repository with nothing but
`./scripts/demo` installing into a fresh .venv.
"""

from __future__ import annotations

import random
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pymilvus import DataType, MilvusClient  # noqa: E402

from tests.rig.milvus import LocalStorageSpec, MilvusInstance, start_milvus  # noqa: E402

COLLECTION = "demo_books"
ROWS = 3000
DIM = 16


def fill_sample_collection(uri: str) -> None:
    client = MilvusClient(uri)
    schema = client.create_schema(auto_id=False, enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("title", DataType.VARCHAR, max_length=128)
    schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=DIM)
    index = client.prepare_index_params()
    index.add_index("embedding", index_type="HNSW", metric_type="L2", params={"M": 16, "efConstruction": 64})
    client.create_collection(COLLECTION, schema=schema, index_params=index)
    rng = random.Random(7)
    rows = [
        {"id": i, "title": f"book {i}", "embedding": [rng.random() for _ in range(DIM)], "year": 1900 + i % 120}
        for i in range(ROWS)
    ]
    client.insert(COLLECTION, rows)
    client.flush(COLLECTION)
    client.close()
    print(f"# filled {COLLECTION}: {ROWS} rows, {DIM}-d vectors, flushed to binlogs", file=sys.stderr)


def compare(uri: str) -> None:
    client = MilvusClient(uri)
    original = client.query(COLLECTION, filter="id >= 0", output_fields=["*"], limit=ROWS)
    restored = client.query(f"{COLLECTION}_restored", filter="id >= 0", output_fields=["*"], limit=ROWS)
    same = sorted(original, key=lambda r: r["id"]) == sorted(restored, key=lambda r: r["id"])
    client.close()
    print(
        f"\n{COLLECTION}: {len(original)} rows; {COLLECTION}_restored: {len(restored)} rows; "
        f"every row identical: {same}"
    )
    if not same:
        raise SystemExit("the restored collection differs from the original")


def write_config(path: Path, milvus: MilvusInstance, backups: Path) -> None:
    path.write_text(
        "configVersion: v2\n"
        "milvus:\n"
        f"  grpc: {{address: 127.0.0.1, port: {milvus.port}}}\n"
        f"  management: {{endpoint: 'http://127.0.0.1:{milvus.metrics_port}'}}\n"
        f"  dataCoord: {{address: '127.0.0.1:{milvus.datacoord_port}'}}\n"
        f"  storage: {{provider: local, rootPath: {milvus.local_storage_path}}}\n"
        "backup:\n"
        f"  storage: {{rootPath: {backups}}}\n"
    )


def run_tool(config: Path, *args: str) -> None:
    argv = ["milvus-backup", "--config", str(config), *args]
    print(f"\n$ {shlex.join(argv)}", flush=True)
    subprocess.run([str(Path(sys.executable).parent / "milvus-backup"), *argv[1:]], check=True)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="milvus-backup-demo-") as tmp:
        work = Path(tmp)
        print("# starting an embedded Milvus 2.3.5 with local storage (about 10 s)", file=sys.stderr)
        milvus = start_milvus(work / "milvus", name="demo", storage=LocalStorageSpec())
        try:
            fill_sample_collection(milvus.uri)
            config = work / "backup.yaml"
            write_config(config, milvus, work / "backups")
            run_tool(config, "check")
            run_tool(config, "create", "-n", "demo_backup", "-c", COLLECTION)
            run_tool(config, "list")
            run_tool(config, "verify", "-n", "demo_backup")
            run_tool(
                config, "restore", "-n", "demo_backup", "-c", COLLECTION, "-s", "_restored", "--restore_index", "--load"
            )
            compare(milvus.uri)
        finally:
            milvus.stop()


if __name__ == "__main__":
    main()
