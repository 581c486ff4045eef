"""Incremental backups on real Milvus 2.3.5 (local storage, and S3 on SeaweedFS) and 2.2.16: a restore through
references compares row by row with the source; verify fails on a damaged object of the base; a referenced base
cannot be deleted; after `consolidate` the base can go and the backup still restores row by row."""

from __future__ import annotations

import json
import random

import pytest

from milvus_backup import wiring
from milvus_backup.config.loader import load_config
from milvus_backup.meta import layout
from tests.integration.compare import assert_same_rows
from tests.integration.conftest import Deployment, unique
from tests.integration.dataset import DIM, Expected, build_simple
from tests.integration.test_backup import run
from tests.integration.test_restore import client

pytestmark = pytest.mark.integration


def test_incremental_chain_restores_verifies_refuses_and_consolidates(deployment: Deployment, tmp_path, capsys):
    config = deployment.config(tmp_path)
    coll = unique("inc_")
    milvus = client(deployment)
    try:
        build_simple(milvus, coll, Expected(), "default", rows=300)
        base, child = unique("base_"), unique("child_")
        # The collection holds no deletes: on 2.2 the creates need not wait for them to reach storage.
        code, _, err = run(capsys, config, "create", "-n", base, "-c", coll, *deployment.create_flags)
        assert code == 0, err
        rng = random.Random(7)
        milvus.insert(coll, [{"id": 1000 + i, "vec": [rng.random() for _ in range(DIM)]} for i in range(120)])
        milvus.flush(coll)

        code, out, err = run(
            capsys, config, "create", "-n", child, "-c", coll, "--incremental", "--json", *deployment.create_flags
        )
        assert code == 0, err
        created = json.loads(out)
        assert created["base"] == base and created["referenced_objects"] > 0 and created["objects"] > 0
        code, out, _ = run(capsys, config, "list", "--json")
        assert {b["name"]: b["base"] for b in json.loads(out)}[child] == base
        code, out, _ = run(capsys, config, "get", "-n", child)
        got = json.loads(out)
        chain = got["chain"]
        assert chain["bases"] == [base] and chain["referenced_bytes"] == {base: created["referenced_bytes"]}
        # The row-count proof and inspect read the referenced segments where their bytes lie (the base's folder).
        proof = got["proof"][f"default.{coll}"]
        if deployment.kind == "v2.2":  # no count(*) to compare with: said, not guessed
            assert proof["state"] == "unproven" and "no count(*)" in proof["reason"], proof
        else:
            assert proof["state"] == "proven" and proof["backup_rows"] == 420, proof
        code, out, err = run(capsys, config, "inspect", "-n", child, "--json")
        assert code == 0, err
        assert json.loads(out)["collections"][0]["rows"]["live"] == 420

        suffix = unique("_r")
        code, _, err = run(capsys, config, "restore", "-n", child, "-s", suffix, "--restore_index", "--load")
        assert code == 0, err
        assert assert_same_rows(milvus, milvus, coll, coll + suffix, "id") == 420

        code, _, err = run(capsys, config, "delete", "-n", base)
        assert code == 19 and child in err and "--with-dependents" in err
        # Retention over the chain: the policy keeps the newest only, and the base stays because the child needs it.
        code, out, err = run(capsys, config, "prune", "-c", coll, "--keep-last", "1", "--json")
        assert code == 0, err
        pruned = json.loads(out)
        assert pruned["removed"] == []
        reasons = {b["name"]: b["reasons"] for b in pruned["kept"]}
        assert set(reasons) == {base, child} and any(child in r for r in reasons[base]), reasons

        # A referenced object of the base, damaged: verify of the child finds it, then it is put back.
        target = wiring.backup_storage(load_config(str(config), env={}).config)
        manifest = json.loads(target.storage.get(layout.meta_key(target.root, child, layout.MANIFEST_FILE)))
        referenced = next(o for o in manifest["objects"] if o.get("backup") == base)
        key = layout.backup_dir(target.root, base) + referenced["key"]
        original = target.storage.get(key)
        target.storage.put(key, original[:-1] + bytes([original[-1] ^ 0xFF]))
        code, out, _ = run(capsys, config, "verify", "-n", child)
        assert code == 13 and f"(in backup {base}): content differs" in out
        target.storage.put(key, original)

        code, out, err = run(capsys, config, "consolidate", "-n", child, "--json")
        assert code == 0, err
        assert json.loads(out)["objects"] == created["referenced_objects"]
        code, _, err = run(capsys, config, "delete", "-n", base)
        assert code == 0, err
        code, _, err = run(capsys, config, "verify", "-n", child)
        assert code == 0, err
        suffix2 = unique("_c")
        code, _, err = run(capsys, config, "restore", "-n", child, "-s", suffix2, "--restore_index", "--load")
        assert code == 0, err
        assert assert_same_rows(milvus, milvus, coll, coll + suffix2, "id") == 420
    finally:
        milvus.close()
