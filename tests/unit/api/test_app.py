"""The REST app without servers (FastAPI's TestClient, local backup storage, no Milvus): bodies are read as JSON
whatever their Content-Type, a web page of another origin cannot use that, and /docs needs no network."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from milvus_backup.api.app import create_app
from milvus_backup.config import load_config
from milvus_backup.service.create import CreateRequest, create_backup
from milvus_backup.service.resources import Resources, StorageLocation
from milvus_backup.storage.local import LocalStorage
from tests.fakes.memory_storage import MemoryStorage
from tests.fakes.milvus import FakeMilvus

API = "/api/v1"
#: A name the route refuses before it touches Milvus: getting this error proves the body was read as JSON.
BAD_NAME_BODY = b'{"backup_name": "no spaces please", "collection_names": ["c1"]}'


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    path = tmp_path / "backup.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "configVersion": "v2",
                "milvus": {"address": "127.0.0.1", "port": 1, "storage": {"provider": "local", "rootPath": "/nope"}},
                "backup": {"storage": {"rootPath": str(tmp_path / "backups")}},
            }
        )
    )
    config = load_config(str(path), env={}, explicit=True).config
    with TestClient(create_app(config, tmp_path / "jobs")) as test_client:
        yield test_client


def assert_error(answer, status: int, error: str, words: str) -> None:  # type: ignore[no-untyped-def]
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["code"] == status and body["error"] == error and words in body["msg"], body


@pytest.mark.parametrize(
    "content_type",
    [
        None,  # Go clients and scripts that set none
        "application/x-www-form-urlencoded",  # curl -d
        "text/plain",
        "application/json",
        "application/json; charset=utf-8",
        "application/vnd.api+json",
    ],
)
def test_a_json_body_is_read_whatever_its_content_type(client: TestClient, content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    answer = client.post(f"{API}/create", content=BAD_NAME_BODY, headers=headers)
    assert_error(answer, 400, "UsageError", "invalid backup name 'no spaces please'")
    answer = client.post(f"{API}/restore", content=b'{"collection_suffix": "_x"}', headers=headers)
    assert_error(answer, 400, "UsageError", "backup_name: Field required")


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "application/json"])
def test_a_body_that_is_not_json_gets_400_naming_the_problem(client: TestClient, content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    for body in (b"backup_name=x", b'{"backup_name": "x",', b"\xff\xfe"):
        answer = client.post(f"{API}/create", content=body, headers=headers)
        assert_error(answer, 400, "UsageError", "the request body is not valid JSON")
    answer = client.post(f"{API}/create", content=b'["backup_name"]', headers=headers)
    assert_error(answer, 400, "UsageError", "invalid request")


def test_a_web_page_of_another_origin_cannot_post_a_body_labelled_otherwise(client: TestClient) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    for browser in ({"origin": "http://evil.example"}, {"sec-fetch-site": "cross-site"}, {"origin": "null"}):
        answer = client.post(f"{API}/restore", content=BAD_NAME_BODY, headers={**form, **browser})
        assert_error(answer, 403, "ForbiddenError", "must send its body as Content-Type: application/json")
    # The same page's own requests, and JSON (which browsers only send across origins after asking), are read.
    same_origin = {"origin": "http://testserver", "sec-fetch-site": "same-origin"}
    answer = client.post(f"{API}/create", content=BAD_NAME_BODY, headers={**form, **same_origin})
    assert_error(answer, 400, "UsageError", "invalid backup name")
    answer = client.post(
        f"{API}/create",
        content=BAD_NAME_BODY,
        headers={"content-type": "application/json", "origin": "http://proxy.example"},
    )
    assert_error(answer, 400, "UsageError", "invalid backup name")


def test_the_openapi_document_still_describes_json_bodies(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    create = spec["paths"][f"{API}/create"]["post"]
    assert list(create["requestBody"]["content"]) == ["application/json"]
    assert "403" in create["responses"]


def test_the_docs_pages_load_their_assets_from_the_server(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
        assert sources, html
        assert not [s for s in sources if s.startswith(("http:", "https:", "//"))], sources
        for source in sources:
            answer = client.get(source)
            assert answer.status_code == 200 and answer.content, source
    bundle = client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "javascript" in bundle.headers["content-type"]
    assert len(bundle.content) > 100_000


def test_an_empty_backup_storage_lists_nothing(client: TestClient) -> None:
    answer = client.get(f"{API}/list")
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"] == []


def test_incremental_backups_over_rest(client: TestClient, tmp_path: Path) -> None:
    """Backups made on the fakes into the app's backup directory: list and get_backup show the base and the chain,
    delete is refused with the dependents named (409) unless with_dependents, consolidate copies the data in."""
    source = FakeMilvus(MemoryStorage("milvus-bucket"))
    source.add_collection("default", "books")
    source.insert("default", "books", rows=50)
    (tmp_path / "backups").mkdir()
    resources = Resources(StorageLocation(LocalStorage(tmp_path / "backups"), ""), milvus=source.side())
    create_backup(resources, CreateRequest(name="mon"))
    source.insert("default", "books", rows=20)
    create_backup(resources, CreateRequest(name="tue", incremental=True))
    create_backup(resources, CreateRequest(name="wed", incremental=True))

    listed = {b["name"]: b["base"] for b in client.get(f"{API}/list").json()["data"]}
    assert listed == {"mon": "", "tue": "mon", "wed": "tue"}
    chain = client.get(f"{API}/get_backup", params={"backup_name": "wed"}).json()["data"]["chain"]
    assert chain["bases"] == ["tue", "mon"] and set(chain["referenced_bytes"]) == {"mon", "tue"}
    assert_error(client.delete(f"{API}/delete", params={"backup_name": "mon"}), 409, "BackupReferencedError", "tue")

    consolidated = client.post(f"{API}/consolidate", json={"backup_name": "tue"}).json()["data"]
    assert consolidated["former_owners"] == ["mon"] and consolidated["objects"] > 0
    refused = client.delete(f"{API}/delete", params={"backup_name": "mon"})
    assert_error(refused, 409, "BackupReferencedError", "wed")  # wed references mon's bytes itself
    deleted = client.delete(f"{API}/delete", params={"backup_name": "mon", "with_dependents": True}).json()["data"]
    assert set(deleted) == {"objects", "mon", "wed"} and deleted["objects"] == deleted["mon"] + deleted["wed"]
    assert [b["name"] for b in client.get(f"{API}/list").json()["data"]] == ["tue"]
