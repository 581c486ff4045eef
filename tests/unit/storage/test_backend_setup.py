"""How the cloud backends are set up from their constructor arguments (no request is sent)."""

from __future__ import annotations

import builtins
from typing import Any

import botocore.credentials
import pytest

from milvus_backup.errors import ConfigError, StorageError
from milvus_backup.storage.azure import AzureStorage
from milvus_backup.storage.gcs import GcsStorage
from milvus_backup.storage.local import LocalStorage
from milvus_backup.storage.s3 import S3Storage, _iam_provider


def s3(**kwargs: Any) -> S3Storage:
    args: dict[str, Any] = dict(endpoint="127.0.0.1:9000", use_ssl=False, access_key="AKIDEXAMPLE", secret_key="s3cr3t")
    args.update(kwargs)
    return S3Storage("bucket", **args)


@pytest.mark.parametrize(
    ("provider", "style"),
    [
        ("minio", "path"),
        ("aws", "auto"),
        ("s3", "auto"),
        ("gcp", "path"),
        ("aliyun", "virtual"),
        ("tencent", "virtual"),
        ("hwc", "virtual"),
    ],
)
def test_s3_addressing_defaults_per_provider(provider: str, style: str) -> None:
    storage = s3(provider=provider, endpoint="storage.example.com:443", use_ssl=True)
    assert storage._client.meta.config.s3["addressing_style"] == style
    assert s3(provider=provider, addressing="path")._client.meta.config.s3["addressing_style"] == "path"


def test_s3_endpoint_location_and_secrets() -> None:
    storage = s3(session_token="tok3n")
    assert storage._client.meta.endpoint_url == "http://127.0.0.1:9000"
    assert storage.location == "s3://127.0.0.1:9000/bucket"
    for secret in ("s3cr3t", "tok3n"):
        assert secret not in repr(storage) and secret not in storage.location
    assert s3(use_ssl=True)._client.meta.endpoint_url == "https://127.0.0.1:9000"
    assert S3Storage("b", provider="aws", region="eu-west-1").location == "s3://s3.eu-west-1.amazonaws.com/b"
    gcp = S3Storage("b", provider="gcp", access_key="a", secret_key="b")
    assert gcp.location == "s3://storage.googleapis.com:443/b"


def test_s3_tls_custom_ca_and_retries(tmp_path: Any) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not used before a request")
    storage = s3(use_ssl=True, ca_cert_path=str(ca), max_attempts=7)
    assert storage._client._endpoint.http_session._verify == str(ca)
    assert storage._client.meta.config.retries == {"mode": "standard", "total_max_attempts": 7}


def test_s3_refuses_bad_settings() -> None:
    with pytest.raises(ConfigError):
        s3(provider="dropbox")
    with pytest.raises(ConfigError):
        s3(auth="password")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        s3(provider="minio", endpoint=None)
    with pytest.raises(ConfigError):
        s3(part_size=1024)


def test_s3_can_copy_only_within_one_service_with_the_same_rights() -> None:
    a = s3()
    assert a.can_copy_from(
        S3Storage(
            "other-bucket", endpoint="127.0.0.1:9000", use_ssl=False, access_key="AKIDEXAMPLE", secret_key="s3cr3t"
        )
    )
    assert not a.can_copy_from(s3(endpoint="127.0.0.1:9001"))
    assert not a.can_copy_from(s3(secret_key="other"))
    assert not a.can_copy_from(s3(region="eu-west-1"))
    assert not a.can_copy_from(LocalStorage("/tmp"))


def test_s3_storages_of_one_service_share_one_client() -> None:
    a = s3()
    assert (
        S3Storage(
            "other-bucket", endpoint="127.0.0.1:9000", use_ssl=False, access_key="AKIDEXAMPLE", secret_key="s3cr3t"
        )._client
        is a._client
    )
    for other in (s3(secret_key="other"), s3(endpoint="127.0.0.1:9001"), s3(region="eu-west-1"), s3(max_attempts=2)):
        assert other._client is not a._client
    # A shared client never signs with another storage's credentials.
    assert s3(secret_key="other")._client._request_signer._credentials.secret_key == "other"
    assert a._client._request_signer._credentials.secret_key == "s3cr3t"


def test_s3_iam_providers() -> None:
    assert isinstance(_iam_provider(""), botocore.credentials.InstanceMetadataProvider)
    assert isinstance(_iam_provider("http://169.254.169.254"), botocore.credentials.InstanceMetadataProvider)
    container = _iam_provider("http://169.254.170.23/v1/credentials")
    assert isinstance(container, botocore.credentials.ContainerProvider)
    # botocore asks the metadata service while building the client; where none answers, the storage is still
    # built and its requests fail as access denied ("Unable to locate credentials").
    s3(auth="iam", access_key="", secret_key="")


def azure(**kwargs: Any) -> AzureStorage:
    args: dict[str, Any] = dict(account_name="acct", account_key="a2V5a2V5a2V5", endpoint="http://127.0.0.1:10000/acct")
    args.update(kwargs)
    return AzureStorage("container", **args)


def test_azure_location_and_copy_scope() -> None:
    storage = azure()
    assert storage.location == "http://127.0.0.1:10000/acct/container"
    assert "a2V5a2V5a2V5" not in repr(storage)
    assert AzureStorage("c", account_name="acct", account_key="eA==").location == "https://acct.blob.core.windows.net/c"
    assert storage.can_copy_from(
        AzureStorage("other", account_name="acct", account_key="eA==", endpoint="http://127.0.0.1:10000/acct")
    )
    assert not storage.can_copy_from(azure(endpoint="http://127.0.0.1:10001/acct"))
    assert not storage.can_copy_from(s3())


def test_azure_default_auth_without_azure_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_identity(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("azure.identity"):
            raise ImportError("No module named 'azure.identity'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_identity)
    with pytest.raises(StorageError) as info:
        AzureStorage("c", account_name="acct", auth="default")
    assert "azure-identity" in str(info.value) and info.value.hint and "pip install azure-identity" in info.value.hint


def test_azure_refuses_bad_settings() -> None:
    with pytest.raises(ConfigError):
        azure(auth="sharedKey", account_key="")
    with pytest.raises(ConfigError):
        azure(account_name="")


def test_gcs_location_and_copy_scope() -> None:
    storage = GcsStorage("bucket", endpoint="http://127.0.0.1:4443")
    assert storage.location == "gs://127.0.0.1:4443/bucket"
    assert storage.can_copy_from(GcsStorage("other", endpoint="http://127.0.0.1:4443"))
    assert not storage.can_copy_from(GcsStorage("other", endpoint="http://127.0.0.1:4444"))
    with pytest.raises(ConfigError):
        GcsStorage("bucket", endpoint="http://127.0.0.1:4443", chunk_size=1000)
    with pytest.raises(StorageError):
        GcsStorage("bucket", credentials_file="/nonexistent/key.json")
