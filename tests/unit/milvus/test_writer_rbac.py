"""What a restore hands to RestoreRBAC: only what the target lacks (`missing_rbac`, the real writer's diff)."""

from __future__ import annotations

from milvus_backup.milvus.writer import missing_rbac, restore_rbac_request


def test_only_what_the_target_lacks_is_restored() -> None:
    grant = {
        "object": {"name": "Collection"},
        "object_name": "books",
        "role": {"name": "reader"},
        "grantor": {"user": {"name": "root"}, "privilege": {"name": "Query"}},
        "db_name": "default",
    }
    backup = {
        "users": [{"user": "alice", "password": "x"}, {"user": "bob", "password": "y"}],
        "roles": [{"name": "reader"}, {"name": "writer"}],
        "grants": [grant, {**grant, "object_name": "movies"}],
        "privilege_groups": [{"group_name": "g1"}, {"group_name": "g2"}],
    }
    existing = {
        "users": [{"user": "alice"}],
        "roles": [{"name": "reader"}],
        "grants": [{**grant, "grantor": {"user": {"name": "someone else"}, "privilege": {"name": "Query"}}}],
        "privilege_groups": [{"group_name": "g1"}],
    }
    missing = missing_rbac(existing, backup)
    assert [u["user"] for u in missing["users"]] == ["bob"]
    assert missing["roles"] == [{"name": "writer"}]
    assert [g["object_name"] for g in missing["grants"]] == ["movies"]  # the grantor does not make a grant new
    assert missing["privilege_groups"] == [{"group_name": "g2"}]
    assert missing_rbac(backup, backup) == {"users": [], "roles": [], "grants": [], "privilege_groups": []}


def test_upstreams_rbac_meta_becomes_the_restore_request_whole() -> None:
    meta = {
        "users": [{"user": "alice", "password": "c3RvcmVk", "roles": [{"name": "reader"}]}],
        "roles": [{"name": "reader"}],
        "grants": [
            {
                "role": {"name": "reader"},
                "object": {"name": "Collection"},
                "object_name": "books",
                "grantor": {"user": {"name": "root"}, "privilege": {"name": "Query"}},
                "db_name": "default",
            }
        ],
        "privilege_groups": [{"group_name": "readers", "privileges": [{"name": "Query"}]}],
    }
    rbac = restore_rbac_request(meta).RBAC_meta
    assert [(u.user, u.password, [r.name for r in u.roles]) for u in rbac.users] == [("alice", "c3RvcmVk", ["reader"])]
    (grant,) = rbac.grants
    assert (grant.object_name, grant.grantor.user.name, grant.grantor.privilege.name) == ("books", "root", "Query")
    assert [(g.group_name, [p.name for p in g.privileges]) for g in rbac.privilege_groups] == [("readers", ["Query"])]
