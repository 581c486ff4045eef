"""Azure Blob Storage (and Azurite) via azure-storage-blob: one container is the bucket.

Retries with backoff are azure-core's retry policy; this module has no retry loop of its own.
"""

from __future__ import annotations

import datetime
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, Literal
from urllib.parse import quote, urlsplit

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobBlock, BlobSasPermissions, BlobServiceClient, generate_blob_sas

from milvus_backup.errors import (
    BucketNotFoundError,
    ConfigError,
    CopyFailedError,
    ObjectNotFoundError,
    StorageAccessDeniedError,
    StorageError,
    StorageUnavailableError,
)
from milvus_backup.storage._streams import Part, TranslatingReader, bounded_map, iter_parts, read_whole
from milvus_backup.storage.base import STREAM_CHUNK_BYTES, CopyReceipt, ObjectInfo, Storage

Auth = Literal["sharedKey", "default"]

_NO_CONTAINER_CODES = {"ContainerNotFound", "ContainerBeingDeleted"}
_NOT_FOUND_CODES = {"BlobNotFound", "CannotVerifyCopySource", "ResourceNotFound"}
# How long the read-only SAS on a copy source stays valid, and how far back it starts (clock skew).
_SAS_LIFETIME = datetime.timedelta(hours=1)
_SAS_SKEW = datetime.timedelta(minutes=5)
# Polling a pending server-side copy: start fast, back off to this interval.
_COPY_POLL_MAX_SECONDS = 2.0


class AzureStorage(Storage):
    """One container of an Azure storage account."""

    kind = "azure"

    def __init__(
        self,
        container: str,
        *,
        account_name: str,
        account_key: str = "",
        endpoint: str | None = None,
        auth: Auth = "sharedKey",
        block_size: int = STREAM_CHUNK_BYTES,
        upload_concurrency: int = 2,
        max_attempts: int = 5,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
    ) -> None:
        if not container:
            raise ConfigError(detail="the Azure container name is empty")
        if not account_name:
            raise ConfigError(detail="Azure storage needs an account name")
        if auth not in ("sharedKey", "default"):
            raise ConfigError(detail=f"Azure auth must be sharedKey or default, not {auth!r}")
        if auth == "sharedKey" and not account_key:
            raise ConfigError(detail="Azure auth sharedKey needs an account key")
        self._container = container
        self._account_name = account_name
        self._account_key = account_key
        self._auth = auth
        self._block_size = block_size
        self._upload_concurrency = max(1, upload_concurrency)
        self._account_url = (endpoint or f"https://{account_name}.blob.core.windows.net").rstrip("/")
        parts = urlsplit(self._account_url)
        self.location = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}/{container}"

        credential: Any
        if auth == "sharedKey":
            credential = {"account_name": account_name, "account_key": account_key}
        else:
            try:
                from azure.identity import DefaultAzureCredential
            except ImportError as exc:
                raise StorageError(
                    location=self.location,
                    detail="Azure auth 'default' needs the azure-identity package, which is not installed",
                    hint="Install it (pip install azure-identity), or use auth sharedKey with an account key.",
                ) from exc
            credential = DefaultAzureCredential()
        self._service = BlobServiceClient(
            self._account_url,
            credential=credential,
            retry_total=max(0, max_attempts - 1),
            connection_timeout=connect_timeout,
            read_timeout=read_timeout,
            # Reads of open_read() go chunk by chunk: keep both the first and the later ranged GETs small.
            max_single_get_size=4 * 1024 * 1024,
            max_chunk_get_size=4 * 1024 * 1024,
        )
        self._client = self._service.get_container_client(container)

    def __repr__(self) -> str:
        return f"AzureStorage(location={self.location!r}, auth={self._auth!r})"

    @property
    def container(self) -> str:
        return self._container

    # -- error translation ---------------------------------------------------------------------------

    @contextmanager
    def _translate_errors(self, key: str, *, bucket_op: bool = False, location: str | None = None) -> Iterator[None]:
        location = location or self.location
        try:
            yield
        except ClientAuthenticationError as exc:
            raise StorageAccessDeniedError(location=location, detail=_message(exc)) from exc
        except HttpResponseError as exc:
            # azure-storage-blob sets error_code on the errors it raises; azure-core does not declare it.
            code = str(getattr(exc, "error_code", None) or "")
            status = exc.status_code
            if code in _NO_CONTAINER_CODES or (bucket_op and status == 404):
                raise BucketNotFoundError(bucket=self._container, location=location) from exc
            if code in _NOT_FOUND_CODES or isinstance(exc, ResourceNotFoundError) or status == 404:
                raise ObjectNotFoundError(key=key, location=location) from exc
            if status in (401, 403):
                raise StorageAccessDeniedError(location=location, detail=_message(exc)) from exc
            if status is not None and status >= 500:
                raise StorageUnavailableError(location=location, detail=_message(exc)) from exc
            raise StorageError(location=location, detail=f"{key!r}: {_message(exc)}") from exc
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise StorageUnavailableError(location=location, detail=_message(exc)) from exc
        except AzureError as exc:
            raise StorageError(location=location, detail=f"{key!r}: {_message(exc)}") from exc
        except ValueError as exc:
            # The SDK raises ValueError for a malformed account key or URL.
            raise StorageError(location=location, detail=f"{key!r}: {exc}") from exc

    # -- reading -------------------------------------------------------------------------------------

    def _stat(self, key: str) -> ObjectInfo:
        props = self._client.get_blob_client(key).get_blob_properties()
        return ObjectInfo(key=key, size=int(props.size))

    def _reported_md5(self, key: str) -> str | None:
        """Content-MD5, which the service records for single-request uploads (not for committed block lists)."""
        props = self._client.get_blob_client(key).get_blob_properties()
        md5 = props.content_settings.content_md5
        return bytes(md5).hex() if md5 else None

    def _get(self, key: str) -> bytes:
        return self._client.get_blob_client(key).download_blob(max_concurrency=1).readall()

    def _open_read(self, key: str) -> BinaryIO:
        downloader = self._client.get_blob_client(key).download_blob(max_concurrency=1)
        reader = TranslatingReader(downloader.read, lambda: self._translate_errors(key))
        return reader  # type: ignore[return-value]

    # -- writing -------------------------------------------------------------------------------------

    def _put(self, key: str, data: bytes) -> None:
        self._client.get_blob_client(key).upload_blob(data, overwrite=True, length=len(data), max_concurrency=1)

    def _put_if_absent(self, key: str, data: bytes) -> bool:
        try:
            self._client.get_blob_client(key).upload_blob(data, overwrite=False, length=len(data), max_concurrency=1)
        except ResourceExistsError:
            return False
        return True

    def _put_stream(self, key: str, stream: BinaryIO, size: int) -> None:
        """Stage blocks of `block_size` (at most `upload_concurrency + 1` in memory), then commit the list."""
        if size <= self._block_size:
            self._put(key, read_whole(stream, size, self.location, key))
            return
        blob = self._client.get_blob_client(key)
        upload = uuid.uuid4().hex  # block ids of one blob must all have the same length

        def stage(item: tuple[int, Part]) -> BlobBlock:
            number, part = item
            block_id = f"{upload}-{number:06d}"  # the SDK base64-encodes it
            with self._translate_errors(key):
                blob.stage_block(block_id, part, length=len(part))
            return BlobBlock(block_id=block_id)

        blocks = enumerate(iter_parts(stream, size, self._block_size, self.location, key))
        staged = bounded_map(stage, blocks, self._upload_concurrency, "azure-block")
        blob.commit_block_list(staged)

    # -- listing and deleting ------------------------------------------------------------------------

    def _list(self, prefix: str) -> Iterator[list[ObjectInfo]]:
        for page in self._client.list_blobs(name_starts_with=prefix or None).by_page():
            yield [ObjectInfo(key=props.name, size=int(props.size)) for props in page]

    def _list_dirs(self, prefix: str) -> list[str]:
        """Prefixes that hold an object (an account with a hierarchical namespace keeps empty directories)."""
        names: list[str] = []
        for item in self._client.walk_blobs(name_starts_with=prefix or None, delimiter="/"):
            if item.name.endswith("/"):  # a BlobPrefix
                name = item.name[len(prefix) :].rstrip("/")
                if name and self._holds_objects(item.name):
                    names.append(name)
        return names

    def _holds_objects(self, prefix: str) -> bool:
        blobs = self._client.list_blobs(name_starts_with=prefix, include=["metadata"], results_per_page=100)
        return any(not (props.metadata or {}).get("hdi_isfolder") for props in blobs)

    def _delete(self, key: str) -> None:
        self._client.delete_blob(key)

    def _check_bucket(self) -> None:
        self._client.get_container_properties()

    # -- server-side copy ----------------------------------------------------------------------------

    def can_copy_from(self, source: Storage) -> bool:
        """Copy Blob works within one account (the source is read with a short-lived SAS of its own)."""
        return (
            isinstance(source, AzureStorage)
            and source._account_url == self._account_url
            and source._account_name == self._account_name
        )

    def _copy_from(self, source: Storage, src_key: str, dst_key: str, size: int) -> CopyReceipt:
        """Copy Blob from the source's URL with a read-only SAS, then wait until the service has finished. Its
        answer carries neither Content-MD5 nor size, so the receipt is empty. (The base translates errors with
        src_key and both locations.)"""
        if not isinstance(source, AzureStorage):  # a subclass may widen can_copy_from
            raise StorageError(location=self.location, detail=f"cannot copy server-side from {source.location}")
        with source._translate_errors(src_key):
            src_url = source._read_url(src_key)
        blob = self._client.get_blob_client(dst_key)
        started = blob.start_copy_from_url(src_url)
        status = started.get("copy_status")
        delay = 0.05
        while status == "pending":
            time.sleep(delay)
            delay = min(delay * 2, _COPY_POLL_MAX_SECONDS)
            copy = blob.get_blob_properties().copy
            status = copy.status
            if status not in ("pending", "success"):
                raise CopyFailedError(
                    src=f"{source.location}/{src_key}",
                    dst=f"{self.location}/{dst_key}",
                    location=self.location,
                    detail=f"copy {status}: {copy.status_description or 'no reason given'}",
                )
        if status != "success":
            raise CopyFailedError(
                src=f"{source.location}/{src_key}",
                dst=f"{self.location}/{dst_key}",
                location=self.location,
                detail=f"copy status {status!r}",
            )
        return CopyReceipt()

    def _read_url(self, key: str) -> str:
        """The blob's URL with a read-only SAS valid for `_SAS_LIFETIME` (account key, or a user delegation key)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        start, expiry = now - _SAS_SKEW, now + _SAS_LIFETIME
        common: dict[str, Any] = dict(
            account_name=self._account_name,
            container_name=self._container,
            blob_name=key,
            permission=BlobSasPermissions(read=True),
            start=start,
            expiry=expiry,
        )
        if self._account_key:
            sas = generate_blob_sas(account_key=self._account_key, **common)
        else:
            delegation = self._service.get_user_delegation_key(key_start_time=start, key_expiry_time=expiry)
            sas = generate_blob_sas(user_delegation_key=delegation, **common)
        return f"{self._client.url}/{quote(key, safe='/')}?{sas}"


def _message(exc: Exception) -> str:
    """The first line of an SDK message (the rest repeats request ids and XML)."""
    text = getattr(exc, "message", None) or str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
