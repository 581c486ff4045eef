"""A Milvus with authorization on: refused credentials, and RBAC in the backup."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import fill_collection, local_config, write_config
from tests.integration.test_backup import backup_json, run

pytestmark = pytest.mark.integration


def auth_config(milvus, tmp_path, password: str):
    data = local_config(milvus, tmp_path / "backups")
    data["milvus"].update({"user": "root", "password": password})
    return write_config(tmp_path, data)


def test_check_names_refused_credentials_with_exit_32(milvus_auth, tmp_path, capsys):
    fill_collection(milvus_auth, "auth_seed")
    code, _, err = run(capsys, auth_config(milvus_auth, tmp_path, "not-the-password"), "check")
    assert code == 32, err
    assert "refused the credentials" in err and "not-the-password" not in err
    code, out, err = run(capsys, auth_config(milvus_auth, tmp_path, "Milvus"), "check")
    assert code == 0, err
    assert "Success!" in out


def test_rbac_is_backed_up_on_milvus_2_3(milvus_auth, tmp_path, capsys):
    fill_collection(milvus_auth, "auth_seed")
    client = milvus_auth.client()
    try:
        if "reader" not in client.list_roles():
            client.create_role("reader")
        client.grant_privilege("reader", "Collection", "Query", "auth_seed")
        if "alice" not in client.list_users():
            client.create_user("alice", "alice-password-1")
        client.grant_role("alice", "reader")
    finally:
        client.close()
    config = auth_config(milvus_auth, tmp_path, "Milvus")
    code, _, err = run(capsys, config, "create", "-n", "with_rbac", "-c", "auth_seed", "--rbac")
    assert code == 0, err
    rbac = backup_json(config, "with_rbac", "full_meta.json")["rbac_meta"]
    assert {"user": "alice", "roles": [{"name": "reader"}]} in rbac["users"]
    assert {"name": "reader"} in rbac["roles"]
    grant = next(g for g in rbac["grants"] if g["role"]["name"] == "reader")
    assert grant["object"]["name"] == "Collection" and grant["object_name"] == "auth_seed"
    assert grant["grantor"]["privilege"]["name"] == "Query"
    assert "alice-password-1" not in json.dumps(rbac)  # Milvus 2.3 never reveals passwords
    code, _, err = run(capsys, config, "create", "-n", "without_rbac", "-c", "auth_seed")
    assert code == 0, err
    assert "rbac_meta" not in backup_json(config, "without_rbac", "full_meta.json")


def test_rbac_restore_recreates_what_the_target_lacks(milvus_auth, tmp_path, capsys):
    fill_collection(milvus_auth, "auth_seed")
    client = milvus_auth.client()
    try:
        if "writer_role" not in client.list_roles():
            client.create_role("writer_role")
        client.grant_privilege("writer_role", "Collection", "Insert", "auth_seed")
        if "bob" not in client.list_users():
            client.create_user("bob", "bob-password-1")
        client.grant_role("bob", "writer_role")
        config = auth_config(milvus_auth, tmp_path, "Milvus")
        code, _, err = run(capsys, config, "create", "-n", "rbac_src", "-c", "auth_seed", "--rbac")
        assert code == 0, err
        # The target loses the role (and with it the grant and bob's binding); bob himself stays.
        client.revoke_role("bob", "writer_role")
        client.revoke_privilege("writer_role", "Collection", "Insert", "auth_seed")
        client.drop_role("writer_role")
        code, _, err = run(capsys, config, "restore", "-n", "rbac_src", "-c", "auth_seed", "-s", "_rbac", "--rbac")
        assert code == 0, err
        assert "writer_role" in client.list_roles()
        assert "writer_role" in client.describe_user("bob")["roles"]
        grants = client.describe_role("writer_role")["privileges"]
        assert any(g["object_name"] == "auth_seed" and g["privilege"] == "Insert" for g in grants), grants
        # A second run changes nothing and fails on nothing: existing roles, grants and bindings stay.
        code, _, err = run(capsys, config, "restore", "-n", "rbac_src", "-c", "auth_seed", "-s", "_rbac2", "--rbac")
        assert code == 0, err
    finally:
        client.close()
