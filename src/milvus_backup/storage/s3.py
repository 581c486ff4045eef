"""The S3-compatible family (MinIO, AWS S3, GCS interoperability, Aliyun OSS, Tencent COS, Huawei OBS) via botocore.

Retries with backoff are botocore's ("standard" mode). botocore's end when an answer begins: a body cut off after
that is read on from where it broke (`_open_read`, `_streams.ResumingReader`).
"""

from __future__ import annotations

import functools
import io
import logging
import math
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal, TypeVar
from urllib.parse import urlsplit

import botocore.credentials
import botocore.exceptions
import botocore.session
from botocore import UNSIGNED
from botocore.config import Config

from milvus_backup.errors import (
    BucketNotFoundError,
    ConfigError,
    ObjectNotFoundError,
    StorageAccessDeniedError,
    StorageError,
    StorageUnavailableError,
)
from milvus_backup.storage._streams import Part, ResumingReader, bounded_map, iter_parts, read_whole
from milvus_backup.storage.base import STREAM_CHUNK_BYTES, CopyReceipt, NoConditionalWrites, ObjectInfo, Storage

logger = logging.getLogger(__name__)

T = TypeVar("T")
Auth = Literal["static", "iam", "default"]
Addressing = Literal["path", "virtual", "auto"]

MIB = 1024 * 1024
GIB = 1024 * MIB

#: Addressing style when none is configured. MinIO-like servers usually sit behind an IP or a single host name;
#: OSS, COS and OBS only accept virtual-hosted requests; AWS works out the right one itself.
PROVIDER_ADDRESSING: dict[str, Addressing] = {
    "minio": "path",
    "s3": "auto",
    "aws": "auto",
    "gcp": "path",
    "aliyun": "virtual",
    "tencent": "virtual",
    "hwc": "virtual",
}
_AWS = ("s3", "aws")
_DEFAULT_ENDPOINTS = {"gcp": "storage.googleapis.com:443"}

# S3 limits: parts of 5 MiB to 5 GiB, at most 10,000 of them; a single CopyObject copies up to 5 GiB.
_MIN_PART = 5 * MIB
_MAX_PART = 5 * GIB
_MAX_PARTS = 10_000
_MAX_SINGLE_COPY = 5 * GIB
_DELETE_BATCH = 1000

_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound", "NoSuchVersion"}
_NO_BUCKET_CODES = {"NoSuchBucket"}
_DENIED_CODES = {
    "AccessDenied",
    "403",
    "Forbidden",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "TokenRefreshRequired",
    "AllAccessDisabled",
    "AccountProblem",
    "InvalidSecurity",
}
#: A service that refuses `If-None-Match` on a PUT says so with one of these.
_NO_CONDITIONS_CODES = {"NotImplemented", "InvalidArgument", "InvalidRequest"}
_UNAVAILABLE_CODES = {"SlowDown", "ServiceUnavailable", "503", "InternalError", "500", "RequestTimeout"}


class S3Storage(Storage):
    """One bucket of an S3-compatible service."""

    kind = "s3"
    #: Found out at the first conditional create (see `Storage.put_if_absent`), unless the caller says.
    conditional_writes: bool | None = None

    def __init__(
        self,
        bucket: str,
        *,
        endpoint: str | None = None,
        use_ssl: bool = True,
        region: str = "",
        access_key: str = "",
        secret_key: str = "",
        session_token: str = "",
        auth: Auth = "static",
        iam_endpoint: str = "",
        addressing: Addressing | None = None,
        ca_cert_path: str = "",
        provider: str = "minio",
        multipart_copy_threshold: int = 500 * MIB,
        part_size: int = STREAM_CHUNK_BYTES,
        upload_concurrency: int = 2,
        max_attempts: int = 5,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_pool_connections: int = 64,
        conditional_writes: bool | None = None,
    ) -> None:
        if provider not in PROVIDER_ADDRESSING:
            raise ConfigError(detail=f"unknown S3-compatible provider {provider!r}")
        if auth not in ("static", "iam", "default"):
            raise ConfigError(detail=f"S3 auth must be static, iam or default, not {auth!r}")
        addressing = addressing or PROVIDER_ADDRESSING[provider]
        if addressing not in ("path", "virtual", "auto"):
            raise ConfigError(detail=f"S3 addressing must be path, virtual or auto, not {addressing!r}")
        if not _MIN_PART <= part_size <= _MAX_PART:
            raise ConfigError(detail=f"S3 part size must be between 5 MiB and 5 GiB, not {part_size}")
        if not bucket:
            raise ConfigError(detail="the S3 bucket name is empty")

        self._bucket = bucket
        self._provider = provider
        self._use_ssl = use_ssl
        self._auth = auth
        self._access_key = access_key
        self._secret_key = secret_key
        self._session_token = session_token
        self._iam_endpoint = iam_endpoint
        self._multipart_copy_threshold = multipart_copy_threshold
        self._part_size = part_size
        self._upload_concurrency = max(1, upload_concurrency)
        self._read_retries = max(0, max_attempts - 1)
        self.conditional_writes = conditional_writes

        endpoint = endpoint or _DEFAULT_ENDPOINTS.get(provider)
        if endpoint is None and provider not in _AWS:
            raise ConfigError(detail=f"provider {provider!r} needs a storage address (endpoint)")
        self._endpoint_url = _endpoint_url(endpoint, use_ssl) if endpoint else None

        self._client = _shared_client(
            _ClientSettings(
                endpoint_url=self._endpoint_url,
                use_ssl=use_ssl,
                # A custom CA bundle for TLS; without one, botocore's default (AWS_CA_BUNDLE, ca_bundle, certifi).
                verify=ca_cert_path if (use_ssl and ca_cert_path) else None,
                region=region,
                addressing=addressing,
                auth=auth,
                access_key=access_key,
                secret_key=secret_key,
                session_token=session_token,
                iam_endpoint=iam_endpoint,
                strict_checksums=provider in _AWS,
                max_attempts=max(1, max_attempts),
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                max_pool_connections=max_pool_connections,
            )
        )
        self._region = self._client.meta.region_name
        netloc = urlsplit(self._endpoint_url or self._client.meta.endpoint_url).netloc.rpartition("@")[2]
        self.location = f"s3://{netloc}/{bucket}"

    def __repr__(self) -> str:
        return f"S3Storage(location={self.location!r}, provider={self._provider!r}, auth={self._auth!r})"

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def _service_identity(self) -> tuple[object, ...]:
        """Two storages with the same identity are one service seen with the same rights."""
        return (
            self._endpoint_url,
            self._region,
            self._use_ssl,
            self._auth,
            self._access_key,
            self._secret_key,
            self._session_token,
            self._iam_endpoint,
        )

    # -- error translation ---------------------------------------------------------------------------

    @contextmanager
    def _translate_errors(self, key: str, *, bucket_op: bool = False, location: str | None = None) -> Iterator[None]:
        location = location or self.location
        try:
            yield
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            detail = f"{code}: {error.get('Message', '')}".strip(": ")
            if code in _NO_BUCKET_CODES or (bucket_op and (code in _NOT_FOUND_CODES or status == 404)):
                bucket = error.get("BucketName") or self._bucket
                raise BucketNotFoundError(bucket=bucket, location=location) from exc
            if code in _NOT_FOUND_CODES or status == 404:
                raise ObjectNotFoundError(key=key, location=location) from exc
            if code in _DENIED_CODES or status in (401, 403):
                raise StorageAccessDeniedError(location=location, detail=detail) from exc
            if code in _UNAVAILABLE_CODES or (status is not None and status >= 500):
                raise StorageUnavailableError(location=location, detail=detail) from exc
            raise StorageError(location=location, detail=f"{key!r}: {detail}") from exc
        except (
            botocore.exceptions.NoCredentialsError,
            botocore.exceptions.PartialCredentialsError,
            botocore.exceptions.CredentialRetrievalError,
        ) as exc:
            raise StorageAccessDeniedError(location=location, detail=str(exc)) from exc
        except (
            botocore.exceptions.ConnectionError,
            botocore.exceptions.HTTPClientError,
            botocore.exceptions.IncompleteReadError,
        ) as exc:
            raise StorageUnavailableError(location=location, detail=str(exc)) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise StorageError(location=location, detail=f"{key!r}: {exc}") from exc

    # -- reading -------------------------------------------------------------------------------------

    def _stat(self, key: str) -> ObjectInfo:
        head = self._client.head_object(Bucket=self._bucket, Key=key)
        return ObjectInfo(key=key, size=int(head["ContentLength"]))

    def _reported_md5(self, key: str) -> str | None:
        """The ETag, when it is the content's MD5: a single-part upload without SSE-KMS or SSE-C."""
        head = self._client.head_object(Bucket=self._bucket, Key=key)
        return _md5_of_etag(head, head.get("ETag", ""))

    def _get(self, key: str) -> bytes:
        with self._open_read(key) as reader:
            return reader.read()

    def _open_read(self, key: str) -> BinaryIO:
        """A stream that reads on where it was cut: botocore retries a request until its answer begins, not a body
        that breaks off after that (a reset, a proxy cutting it short, a read timeout), so a read that fails so is
        resumed with a ranged GET of the same version (If-Match its ETag), at most `max_attempts` times."""
        response = self._client.get_object(Bucket=self._bucket, Key=key)
        size, etag = int(response.get("ContentLength", 0)), response.get("ETag")

        def open_at(offset: int) -> Any:
            if offset >= size:
                return io.BytesIO(b"")
            match = {"IfMatch": etag} if etag else {}
            return self._client.get_object(Bucket=self._bucket, Key=key, Range=f"bytes={offset}-", **match)["Body"]

        reader = ResumingReader(
            open_at, _is_cut, lambda: self._translate_errors(key), retries=self._read_retries, first=response["Body"]
        )
        return reader  # type: ignore[return-value]

    # -- writing -------------------------------------------------------------------------------------

    def _put(self, key: str, data: bytes) -> None:
        self._client.put_object(Bucket=self._bucket, Key=key, Body=data)

    def _put_if_absent(self, key: str, data: bytes) -> bool:
        try:
            self._client.put_object(Bucket=self._bucket, Key=key, Body=data, IfNoneMatch="*")
        except botocore.exceptions.ClientError as exc:
            # 412: the object exists; 409: another conditional write of the key is under way (it wins).
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status in (409, 412):
                return False
            if status == 501 or exc.response.get("Error", {}).get("Code") in _NO_CONDITIONS_CODES:
                raise NoConditionalWrites(self.location) from exc
            raise
        return True

    def _put_stream(self, key: str, stream: BinaryIO, size: int) -> None:
        """Multipart upload in parts of `part_size`; at most `upload_concurrency + 1` parts are in memory."""
        part_size = max(self._part_size, math.ceil(size / _MAX_PARTS))
        if size <= part_size:
            self._put(key, read_whole(stream, size, self.location, key))
            return

        def upload(upload_id: str, number: int, part: Part) -> dict[str, Any]:
            with self._translate_errors(key):
                response = self._client.upload_part(
                    Bucket=self._bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=part
                )
            return {"PartNumber": number, "ETag": response["ETag"]}

        parts = enumerate(iter_parts(stream, size, part_size, self.location, key), 1)
        self._multipart(key, parts, upload, self._upload_concurrency)

    def _multipart(
        self,
        key: str,
        jobs: Iterator[tuple[int, T]],
        run: Callable[[str, int, T], dict[str, Any]],
        concurrency: int,
    ) -> None:
        """Create a multipart upload for `key`, run `run(upload_id, number, job)` for every job with at most
        `concurrency` in flight, then complete it; abort it on any failure."""
        with self._translate_errors(key):
            upload_id = self._client.create_multipart_upload(Bucket=self._bucket, Key=key)["UploadId"]
        try:
            parts = bounded_map(lambda job: run(upload_id, job[0], job[1]), jobs, concurrency, "s3-part")
            with self._translate_errors(key):
                self._client.complete_multipart_upload(
                    Bucket=self._bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
        except BaseException:
            try:
                self._client.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
            except Exception:  # the original failure is the one to report
                logger.warning("could not abort multipart upload of %r on %s", key, self.location, exc_info=True)
            raise

    # -- listing and deleting ------------------------------------------------------------------------

    def _list(self, prefix: str) -> Iterator[list[ObjectInfo]]:
        """ListObjectsV2 pages as the server sends them (SeaweedFS, for one, lists folder by folder: "a/b/x"
        before "a/b-1"; the base sorts such listings)."""
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            yield list(_page_objects(page))

    def _list_dirs(self, prefix: str) -> list[str]:
        """Common prefixes that still hold an object: some servers (SeaweedFS) keep a folder after its last
        object is deleted and report it as a common prefix, so each one is checked with a one-key listing."""
        paginator = self._client.get_paginator("list_objects_v2")
        names: list[str] = []
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", ()):
                name = common["Prefix"][len(prefix) :].rstrip("/")
                if name and self._holds_objects(common["Prefix"]):
                    names.append(name)
        return names

    def _holds_objects(self, prefix: str) -> bool:
        listing = self._client.list_objects_v2(Bucket=self._bucket, Prefix=prefix, MaxKeys=1)
        return bool(listing.get("KeyCount", len(listing.get("Contents", ()))))

    def _delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self._bucket, Key=key)

    def _delete_prefix(self, prefix: str) -> int:
        """DeleteObjects in batches of 1000, as the listing (in the server's order) goes."""
        if self._provider == "gcp":  # the GCS XML API has no multi-object delete
            return super()._delete_prefix(prefix)
        count = 0
        batch: list[str] = []
        for info in self._raw_listing(prefix):
            batch.append(info.key)
            if len(batch) == _DELETE_BATCH:
                count += self._delete_batch(batch)
                batch = []
        if batch:
            count += self._delete_batch(batch)
        self._abort_uploads(prefix)
        return count

    def _abort_uploads(self, prefix: str) -> None:
        """Multipart uploads left open below `prefix` (by a run that was killed mid-upload) are no objects, but
        the service keeps their parts, unseen by any listing, until they are aborted."""
        if not prefix.endswith("/"):
            return  # only below a folder: a plain prefix could reach another backup's uploads
        paginator = self._client.get_paginator("list_multipart_uploads")
        try:
            for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                for upload in page.get("Uploads", ()):
                    self._client.abort_multipart_upload(
                        Bucket=self._bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    logger.info("aborted an unfinished upload of %r on %s", upload["Key"], self.location)
        except botocore.exceptions.ClientError as exc:  # a service without the call: the objects are deleted
            logger.warning("could not look for unfinished uploads below %r on %s: %s", prefix, self.location, exc)

    def _delete_batch(self, keys: list[str]) -> int:
        with self._translate_errors(keys[0]):
            response = self._client.delete_objects(
                Bucket=self._bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
            )
        errors = [e for e in response.get("Errors", ()) if e.get("Code") != "NoSuchKey"]
        if errors:
            first = errors[0]
            detail = (
                f"could not delete {len(errors)} objects, e.g. {first.get('Key')!r}: "
                f"{first.get('Code')} {first.get('Message', '')}"
            )
            if first.get("Code") in _DENIED_CODES:
                raise StorageAccessDeniedError(location=self.location, detail=detail)
            raise StorageError(location=self.location, detail=detail)
        return len(keys)

    def _check_bucket(self) -> None:
        self._client.head_bucket(Bucket=self._bucket)

    # -- server-side copy ----------------------------------------------------------------------------

    def can_copy_from(self, source: Storage) -> bool:
        return isinstance(source, S3Storage) and source._service_identity == self._service_identity

    def _copy_from(self, source: Storage, src_key: str, dst_key: str, size: int) -> CopyReceipt:
        """CopyObject, or UploadPartCopy in parts above `multipart_copy_threshold` (never for GCS, whose XML API
        has no UploadPartCopy but copies any size in one request). A CopyObject answer carries the new ETag, the
        content's MD5 for a single-part object, but no size; a multipart copy's size is the sum of its parts."""
        if not isinstance(source, S3Storage):  # a subclass may widen can_copy_from
            raise StorageError(location=self.location, detail=f"cannot copy server-side from {source.location}")
        copy_source = {"Bucket": source.bucket, "Key": src_key}
        where = f"{source.location} -> {self.location}"
        multipart = self._provider != "gcp" and (size >= self._multipart_copy_threshold or size > _MAX_SINGLE_COPY)
        if not multipart:  # (the base translates errors with src_key and both locations)
            response = self._client.copy_object(Bucket=self._bucket, Key=dst_key, CopySource=copy_source)
            md5 = _md5_of_etag(response, response.get("CopyObjectResult", {}).get("ETag", ""))
            return CopyReceipt(checksum=f"md5:{md5}" if md5 else None)
        # The source's own size (a missing source fails here, before an upload is created): parts cut from a
        # stale `size` would silently truncate the copy.
        size = source.stat(src_key).size
        part_size = max(_MIN_PART, min(self._multipart_copy_threshold, _MAX_PART), math.ceil(size / _MAX_PARTS))
        starts = enumerate(range(0, size, part_size), 1)
        ranges = ((n, (start, min(start + part_size, size) - 1)) for n, start in starts)

        def copy_part(upload_id: str, number: int, byte_range: tuple[int, int]) -> dict[str, Any]:
            with self._translate_errors(src_key, location=where):
                response = self._client.upload_part_copy(
                    Bucket=self._bucket,
                    Key=dst_key,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource=copy_source,
                    CopySourceRange=f"bytes={byte_range[0]}-{byte_range[1]}",
                )
            return {"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]}

        self._multipart(dst_key, ranges, copy_part, concurrency=4)
        return CopyReceipt(size=size)  # a multipart ETag is no MD5 of the content


#: What a body that broke off after its answer began fails with, read through botocore (which wraps urllib3's).
_CUT_BODY = (
    botocore.exceptions.ResponseStreamingError,
    botocore.exceptions.IncompleteReadError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.ConnectionClosedError,
)


def _is_cut(exc: BaseException) -> bool:
    return isinstance(exc, _CUT_BODY)


def _md5_of_etag(response: dict[str, Any], etag: str) -> str | None:
    """The ETag when it is the content's MD5: an object written in one part, without SSE-KMS or SSE-C."""
    etag = str(etag).strip('"').lower()
    encrypted = response.get("ServerSideEncryption") == "aws:kms" or response.get("SSECustomerAlgorithm")
    if encrypted or not re.fullmatch(r"[0-9a-f]{32}", etag):
        return None  # multipart ETags look like "<md5 of part md5s>-<parts>"
    return etag


def _page_objects(page: dict[str, Any]) -> Iterator[ObjectInfo]:
    for item in page.get("Contents", ()):
        # A listing cannot tell an SSE-KMS object, whose ETag is no MD5; a copy's answer can, so an MD5 that
        # is not one never matches a copy's (see copying.copy_all).
        md5 = _md5_of_etag(item, item.get("ETag", ""))
        yield ObjectInfo(key=item["Key"], size=int(item["Size"]), md5=md5)


@dataclass(frozen=True)
class _ClientSettings:
    endpoint_url: str | None
    use_ssl: bool
    verify: str | None
    region: str
    addressing: Addressing
    auth: str
    access_key: str
    secret_key: str = field(repr=False)
    session_token: str = field(repr=False)
    iam_endpoint: str
    #: Send and check the CRC checksums newer botocore adds by default (AWS only, see below).
    strict_checksums: bool
    max_attempts: int
    connect_timeout: float
    read_timeout: float
    max_pool_connections: int


@functools.lru_cache(maxsize=16)
def _shared_client(settings: _ClientSettings) -> Any:
    """One botocore client per service, credentials and settings in this process, shared by the storages of
    every bucket there (botocore clients are thread-safe): building one is slow, and a server running many jobs,
    or a backup between two buckets of one service, would otherwise pay for it again and again."""
    session = _new_session()
    # Timestamps stay the strings the service sent (botocore's documented way to change its parsing): nothing
    # here reads them, and parsing them costs CPU on every listed key and every copy, in a process whose S3 copy
    # rate is bound by botocore's CPU per request.
    session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=str)
    anonymous = settings.auth == "static" and not settings.access_key and not settings.secret_key
    if settings.auth == "static" and not anonymous:
        session.set_credentials(settings.access_key, settings.secret_key, settings.session_token or None)
    elif settings.auth == "iam":
        session.register_component(
            "credential_provider",
            botocore.credentials.CredentialResolver(providers=[_iam_provider(settings.iam_endpoint)]),
        )
    extra: dict[str, Any] = {}
    if not settings.strict_checksums:
        # Many S3-compatible services reject the CRC checksums and aws-chunked bodies newer botocore sends
        # by default; send checksums only where the API requires one.
        extra.update(request_checksum_calculation="when_required", response_checksum_validation="when_required")
    config = Config(
        region_name=settings.region or session.get_config_variable("region") or "us-east-1",
        signature_version=UNSIGNED if anonymous else "s3v4",
        s3={"addressing_style": settings.addressing},
        retries={"mode": "standard", "total_max_attempts": settings.max_attempts},
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        max_pool_connections=settings.max_pool_connections,
        **extra,
    )
    return session.create_client(
        "s3", endpoint_url=settings.endpoint_url, use_ssl=settings.use_ssl, verify=settings.verify, config=config
    )


_loader_lock = threading.Lock()
_shared_loader: Any = None


def _new_session() -> botocore.session.Session:
    """A botocore session of its own (credentials differ per client) that shares the one data loader, so the
    S3 service model (some 10 MB once parsed) is loaded once per process, not once per client."""
    global _shared_loader
    session = botocore.session.get_session()
    with _loader_lock:
        if _shared_loader is None:
            _shared_loader = session.get_component("data_loader")
        else:
            session.register_component("data_loader", _shared_loader)
    return session


def _endpoint_url(endpoint: str, use_ssl: bool) -> str:
    if "://" in endpoint:
        return endpoint.rstrip("/")
    return f"{'https' if use_ssl else 'http'}://{endpoint}"


def _iam_provider(iam_endpoint: str) -> botocore.credentials.CredentialProvider:
    """Credentials from the environment's role.

    Without an endpoint: botocore's EC2 instance metadata provider. With an endpoint that has a path (e.g.
    `http://169.254.170.23/v1/credentials`): a container-credentials full URI, as ECS and EKS Pod Identity
    serve. With a bare `scheme://host[:port]`: the base URL of an instance-metadata service, which is what
    minio-go (and so milvus-backup) means by an IAM endpoint.
    """
    if iam_endpoint and urlsplit(iam_endpoint).path.strip("/"):
        return botocore.credentials.ContainerProvider(environ={"AWS_CONTAINER_CREDENTIALS_FULL_URI": iam_endpoint})
    fetcher = botocore.credentials.InstanceMetadataFetcher(
        timeout=2,
        num_attempts=3,
        base_url=(iam_endpoint.rstrip("/") + "/") if iam_endpoint else "http://169.254.169.254/",
    )
    return botocore.credentials.InstanceMetadataProvider(iam_role_fetcher=fetcher)
