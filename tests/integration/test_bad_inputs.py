"""Bad inputs get a clear error, on the command line (its real entry point) and over REST (a real server on a
socket): each case is one `bad_input` figure of the reliability summary (tests/reliability.py). None of them needs
Milvus: each is refused before anything is contacted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from milvus_backup.cli.app import main
from tests.integration.server_rig import ThreadServer

API = "/api/v1"
TOKEN = "t0ken-for-bad-inputs"


def _config(folder: Path, **server: Any) -> Path:
    """No Milvus answers at this address: a case that reached it would fail with another error than expected."""
    path = folder / "backup.yaml"
    data = {
        "configVersion": "v2",
        "milvus": {"grpc": {"address": "127.0.0.1", "port": 1}, "storage": {"provider": "local", "rootPath": "/nope"}},
        "backup": {"storage": {"rootPath": str(folder / "backups")}},
        "server": {"jobsDir": str(folder / "jobs"), **server},
    }
    path.write_text(yaml.safe_dump(data))
    return path


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    _, err = capsys.readouterr()
    return int(exited.value.code or 0), err


#: (case, arguments after the config, exit code, words the error must hold)
CLI_CASES = [
    ("create -n ''", ["create", "-n", ""], 2, "the backup name is empty"),
    ("get -n ''", ["get", "-n", ""], 2, "the backup name is empty"),
    ("delete -n ''", ["delete", "-n", ""], 2, "the backup name is empty"),
    ("verify -n ''", ["verify", "-n", ""], 2, "the backup name is empty"),
    ("restore -n ''", ["restore", "-n", ""], 2, "the backup name is empty"),
    ("create -n 'a b'", ["create", "-n", "a b"], 2, "invalid backup name 'a b'"),
    ("create -n <200 chars>", ["create", "-n", "x" * 200], 2, "200 characters long"),
    ("create -n '../up'", ["create", "-n", "../up"], 2, "invalid backup name"),
    ("restore -r a:b:c", ["restore", "-n", "b", "-r", "a:b:c"], 2, "expected OLD:NEW"),
    ("restore -r a.b.c:d", ["restore", "-n", "b", "-r", "a.b.c:d"], 2, "'a.b' is no database or collection name"),
    ("restore -r a:", ["restore", "-n", "b", "-r", "a:"], 2, "both the old and the new name are needed"),
    ("restore -r :b", ["restore", "-n", "b", "-r", ":b"], 2, "both the old and the new name are needed"),
    ("restore -r 'a b:c'", ["restore", "-n", "b", "-r", "a b:c"], 2, "'a b' is no database or collection name"),
    ("restore -r 1a:b", ["restore", "-n", "b", "-r", "1a:b"], 2, "'1a' is no database or collection name"),
    ("restore -r db.*:c", ["restore", "-n", "b", "-r", "db.*:c"], 2, "map a whole database as db1.* to db2.*"),
    ("restore -r a:b,a:c", ["restore", "-n", "b", "-r", "a:b,a:c"], 2, "a is renamed twice"),
    ("restore -s a-b", ["restore", "-n", "b", "-s", "a-b"], 2, "only letters, digits and '_' are allowed"),
    ("restore -s x -r a:b", ["restore", "-n", "b", "-s", "x", "-r", "a:b"], 2, "cannot be combined"),
    ("create -a <not JSON>", ["create", "-n", "b", "-a", "{db1:"], 2, "is not valid JSON"),
    ("create -a <a list>", ["create", "-n", "b", "-a", '["c1"]'], 2, "must map database names"),
    ("create -a <names not a list>", ["create", "-n", "b", "-a", '{"db1":"c1"}'], 2, "must map database names"),
    ("restore -a <empty name>", ["restore", "-n", "b", "-a", '{"db1":[""]}'], 2, "an empty collection name"),
    ("create --filter .c", ["create", "-n", "b", "--filter", ".c"], 2, "expected coll, db.coll"),
    ("create --strategy bogus", ["create", "-n", "b", "--strategy", "bogus"], 2, "use one of"),
    ("create -f --meta_only", ["create", "-n", "b", "-f", "--meta_only"], 2, "contradict each other"),
    (
        "restore --drop_exist_collection --skip_create_collection",
        ["restore", "-n", "b", "--drop_exist_collection", "--skip_create_collection"],
        2,
        "cannot be combined",
    ),
    ("restore --use_auto_index alone", ["restore", "-n", "b", "--use_auto_index"], 2, "needs restore_index"),
    ("--set without a key", ["--set", "=1", "list"], 3, "expected KEY=VALUE"),
]


@pytest.mark.parametrize(("case", "args", "code", "words"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_a_bad_command_line_is_refused_clearly(
    case: str,
    args: list[str],
    code: int,
    words: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    reliability_record: Any,
) -> None:
    got, err = _cli(capsys, "--config", str(_config(tmp_path)), *args)
    ok = got == code and "Error: " in err and words in err and "Traceback" not in err
    reliability_record("bad_input", f"cli: {case}", ok)
    assert ok, (got, err)


def test_bad_config_files_get_their_own_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reliability_record: Any
) -> None:
    empty, listed, scalar = tmp_path / "empty.yaml", tmp_path / "list.yaml", tmp_path / "scalar.yaml"
    empty.write_text("# nothing here\n")
    listed.write_text("- milvus\n- backup\n")
    scalar.write_text("just words\n")
    cases = [
        ("--config <a directory>", tmp_path, "is a directory"),
        ("--config <empty file>", empty, "is empty"),
        ("--config <a YAML list>", listed, "holds a YAML list, not a mapping"),
        ("--config <a YAML string>", scalar, "holds a YAML string, not a mapping"),
        ("--config <missing file>", tmp_path / "missing.yaml", "not found"),
    ]
    failed = []
    for case, path, words in cases:
        code, err = _cli(capsys, "--config", str(path), "list")
        ok = code == 3 and words in err
        reliability_record("bad_input", f"cli: {case}", ok)
        if not ok:
            failed.append((case, code, err))
    assert failed == []


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ThreadServer]:
    served = ThreadServer(_config(tmp_path, authToken=TOKEN, maxBodyBytes=64 * 1024), tmp_path / "jobs")
    yield served
    served.stop()


def _refused(answer: httpx.Response, status: int, words: str) -> bool:
    body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
    return answer.status_code == status and words in str(body.get("msg", "")) and len(answer.content) < 8192


def test_bad_requests_are_refused_clearly(server: ThreadServer, reliability_record: Any) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    long_name = "n" * 20_000

    def chunks() -> Iterator[bytes]:
        yield b'{"backup_name": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    with httpx.Client(base_url=server.url, timeout=60) as client:
        cases = [
            (
                "body over the limit",
                client.post(f"{API}/create", content=b"{" + b" " * 70_000 + b"}", headers=auth),
                413,
                "larger than 65536 bytes",
            ),
            (
                "chunked body over the limit",
                client.post(f"{API}/create", content=chunks(), headers=auth),
                413,
                "larger than 65536 bytes",
            ),
            (
                "unknown query parameter",
                client.get(f"{API}/list", params={"colection_name": "c"}, headers=auth),
                400,
                "takes no query parameter 'colection_name'",
            ),
            (
                "upstream's get_backup?path=",
                client.get(f"{API}/get_backup", params={"backup_name": "b", "path": "/x"}, headers=auth),
                400,
                "takes no query parameter 'path'",
            ),
            (
                "a 20,000-character backup name",
                client.post(f"{API}/create", json={"backup_name": long_name}, headers=auth),
                400,
                "at most 128 characters",
            ),
            (
                "a 20,000-character unknown query parameter",
                client.get(f"{API}/list", params={long_name: "1"}, headers=auth),
                400,
                "(20000 characters)",
            ),
            (
                "a 20,000-character collection rename",
                client.post(
                    f"{API}/restore", json={"backup_name": "b", "collection_renames": {long_name: "c"}}, headers=auth
                ),
                400,
                "a name of 20000 characters; Milvus allows 255",
            ),
            ("not JSON", client.post(f"{API}/create", content=b"{backup_name:", headers=auth), 400, "not valid JSON"),
            ("no token", client.get(f"{API}/list"), 401, "bearer token"),
            ("wrong token", client.get(f"{API}/list", headers={"Authorization": "Bearer nope"}), 401, "bearer token"),
            ("/metrics without the token", client.get("/metrics"), 401, "bearer token"),
            ("/openapi.json without the token", client.get("/openapi.json"), 401, "bearer token"),
            ("/docs without the token", client.get("/docs"), 401, "bearer token"),
        ]
        failed = []
        for case, answer, status, words in cases:
            ok = _refused(answer, status, words)
            reliability_record("bad_input", f"rest: {case}", ok)
            if not ok:
                failed.append((case, answer.status_code, answer.text[:500]))
        assert failed == []
        # What still answers without the token, and everything with it.
        assert client.get("/healthz").status_code == 200 and client.get(f"{API}/hello").status_code == 200
        assert client.get("/metrics", headers=auth).status_code == 200
        assert client.get("/openapi.json", headers=auth).status_code == 200


def test_public_metrics_serves_metrics_and_docs_without_the_token(tmp_path: Path) -> None:
    served = ThreadServer(_config(tmp_path, authToken=TOKEN, publicMetrics=True), tmp_path / "jobs")
    try:
        with httpx.Client(base_url=served.url, timeout=60) as client:
            assert client.get("/metrics").status_code == 200
            assert client.get("/openapi.json").status_code == 200 and client.get("/docs").status_code == 200
            assert client.get(f"{API}/list").status_code == 401
    finally:
        served.stop()
