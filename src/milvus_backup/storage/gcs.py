"""Google Cloud Storage through its JSON API (`gcpnative`) via google-cloud-storage.

Retries with backoff are the library's (`DEFAULT_RETRY`); this module has no retry loop of its own.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import google.api_core.exceptions as gexc
import google.auth.exceptions
import requests.exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.cloud.storage.exceptions import DataCorruption, InvalidResponse
from google.cloud.storage.retry import DEFAULT_RETRY

from milvus_backup.errors import (
    BucketNotFoundError,
    ConfigError,
    ObjectNotFoundError,
    StorageAccessDeniedError,
    StorageError,
    StorageUnavailableError,
)
from milvus_backup.storage._streams import TranslatingReader, read_exact, short_stream
from milvus_backup.storage.base import STREAM_CHUNK_BYTES, CopyReceipt, ObjectInfo, Storage

_GCS_CHUNK_ALIGN = 256 * 1024  # resumable upload chunks are multiples of 256 KiB
_SCOPES = ["https://www.googleapis.com/auth/devstorage.full_control"]


class GcsStorage(Storage):
    """One bucket of Google Cloud Storage (or fake-gcs-server)."""

    kind = "gcs"

    def __init__(
        self,
        bucket: str,
        *,
        credentials_file: str = "",
        endpoint: str | None = None,
        project: str = "",
        chunk_size: int = STREAM_CHUNK_BYTES,
        timeout: float = 60.0,
    ) -> None:
        if not bucket:
            raise ConfigError(detail="the GCS bucket name is empty")
        if chunk_size <= 0 or chunk_size % _GCS_CHUNK_ALIGN:
            raise ConfigError(detail=f"the GCS chunk size must be a multiple of 256 KiB, not {chunk_size}")
        self._bucket_name = bucket
        self._credentials_file = credentials_file
        self._endpoint = endpoint.rstrip("/") if endpoint else None
        self._project = project
        self._chunk_size = chunk_size
        self._timeout = timeout
        if self._endpoint:
            parts = urlsplit(self._endpoint)
            self.location = f"gs://{parts.netloc.rpartition('@')[2]}/{bucket}"
        else:
            self.location = f"gs://{bucket}"

        options: dict[str, Any] = {"api_endpoint": self._endpoint} if self._endpoint else {}
        with self._translate_errors(""):
            if credentials_file:
                from google.oauth2 import service_account

                credentials = service_account.Credentials.from_service_account_file(credentials_file, scopes=_SCOPES)
                self._client = storage.Client(
                    project=project or credentials.project_id, credentials=credentials, client_options=options
                )
            elif self._endpoint:
                # An emulator such as fake-gcs-server: no credentials at all.
                self._client = storage.Client(
                    project=project or "<none>", credentials=AnonymousCredentials(), client_options=options
                )
            else:
                self._client = storage.Client(project=project or None, client_options=options)
        self._bucket = self._client.bucket(bucket)

    def __repr__(self) -> str:
        return f"GcsStorage(location={self.location!r})"

    @property
    def bucket(self) -> str:
        return self._bucket_name

    # -- error translation ---------------------------------------------------------------------------

    @contextmanager
    def _translate_errors(self, key: str, *, bucket_op: bool = False, location: str | None = None) -> Iterator[None]:
        location = location or self.location
        try:
            yield
        except gexc.NotFound as exc:
            if bucket_op:
                raise BucketNotFoundError(bucket=self._bucket_name, location=location) from exc
            raise ObjectNotFoundError(key=key, location=location) from exc
        except (gexc.Forbidden, gexc.Unauthorized) as exc:
            raise StorageAccessDeniedError(location=location, detail=_message(exc)) from exc
        except (gexc.ServerError, gexc.TooManyRequests, gexc.RetryError) as exc:
            raise StorageUnavailableError(location=location, detail=_message(exc)) from exc
        except gexc.GoogleAPIError as exc:
            raise StorageError(location=location, detail=f"{key!r}: {_message(exc)}") from exc
        except (google.auth.exceptions.DefaultCredentialsError, google.auth.exceptions.RefreshError) as exc:
            raise StorageAccessDeniedError(location=location, detail=_message(exc)) from exc
        except (
            google.auth.exceptions.TransportError,
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
        ) as exc:
            raise StorageUnavailableError(location=location, detail=_message(exc)) from exc
        except (InvalidResponse, DataCorruption, requests.exceptions.RequestException) as exc:
            raise StorageError(location=location, detail=f"{key!r}: {_message(exc)}") from exc
        except (OSError, ValueError) as exc:
            # e.g. an unreadable or malformed credentials file.
            raise StorageError(location=location, detail=f"{key!r}: {exc}") from exc

    # -- reading -------------------------------------------------------------------------------------

    def _stat(self, key: str) -> ObjectInfo:
        blob = self._bucket.get_blob(key, timeout=self._timeout, retry=DEFAULT_RETRY)
        if blob is None:
            raise ObjectNotFoundError(key=key, location=self.location)
        return ObjectInfo(key=key, size=int(blob.size or 0))

    def _reported_md5(self, key: str) -> str | None:
        """md5Hash, which GCS records for every object except composite ones."""
        blob = self._bucket.get_blob(key, timeout=self._timeout, retry=DEFAULT_RETRY)
        if blob is None:
            raise ObjectNotFoundError(key=key, location=self.location)
        return _md5_hex(blob)

    def _get(self, key: str) -> bytes:
        return self._bucket.blob(key).download_as_bytes(timeout=self._timeout, retry=DEFAULT_RETRY)

    def _open_read(self, key: str) -> BinaryIO:
        blob = self._bucket.blob(key)
        # Fetching the metadata first reports a missing object now, not at the first read, and pins every
        # ranged read to this generation of the object.
        blob.reload(timeout=self._timeout, retry=DEFAULT_RETRY)
        reader = blob.open("rb", chunk_size=self._chunk_size, retry=DEFAULT_RETRY, timeout=self._timeout)
        stream = TranslatingReader(reader.read, lambda: self._translate_errors(key), reader.close)
        return stream  # type: ignore[return-value]

    # -- writing -------------------------------------------------------------------------------------

    def _put(self, key: str, data: bytes) -> None:
        self._bucket.blob(key).upload_from_string(data, timeout=self._timeout, retry=DEFAULT_RETRY)

    def _put_if_absent(self, key: str, data: bytes) -> bool:
        try:
            # Generation 0 matches only an object that does not exist.
            self._bucket.blob(key).upload_from_string(data, timeout=self._timeout, if_generation_match=0)
        except gexc.PreconditionFailed:
            return False
        return True

    def _put_stream(self, key: str, stream: BinaryIO, size: int) -> None:
        """A resumable upload in chunks of `chunk_size`; one chunk is in memory at a time."""
        blob = self._bucket.blob(key, chunk_size=self._chunk_size)
        blob.upload_from_file(
            _Rewindable(stream, size, self.location, key),
            size=size,
            rewind=False,
            timeout=self._timeout,
            retry=DEFAULT_RETRY,
        )

    # -- listing and deleting ------------------------------------------------------------------------

    def _list(self, prefix: str) -> Iterator[list[ObjectInfo]]:
        blobs = self._client.list_blobs(self._bucket, prefix=prefix or None, timeout=self._timeout, retry=DEFAULT_RETRY)
        for page in blobs.pages:
            yield [ObjectInfo(key=blob.name, size=int(blob.size or 0)) for blob in page]

    def _list_dirs(self, prefix: str) -> list[str]:
        pages = self._client.list_blobs(
            self._bucket, prefix=prefix or None, delimiter="/", timeout=self._timeout, retry=DEFAULT_RETRY
        )
        for _ in pages:  # the prefixes are collected while the pages are read
            pass
        # A bucket with hierarchical namespace keeps empty folders: report only those holding an object.
        return [name for p in pages.prefixes if (name := p[len(prefix) :].rstrip("/")) and self._holds_objects(p)]

    def _holds_objects(self, prefix: str) -> bool:
        blobs = self._client.list_blobs(
            self._bucket, prefix=prefix, max_results=1, timeout=self._timeout, retry=DEFAULT_RETRY
        )
        return any(True for _ in blobs)

    def _delete(self, key: str) -> None:
        self._bucket.delete_blob(key, timeout=self._timeout, retry=DEFAULT_RETRY)

    def _check_bucket(self) -> None:
        self._bucket.reload(timeout=self._timeout, retry=DEFAULT_RETRY)

    # -- server-side copy ----------------------------------------------------------------------------

    def can_copy_from(self, source: Storage) -> bool:
        return (
            isinstance(source, GcsStorage)
            and source._endpoint == self._endpoint
            and source._credentials_file == self._credentials_file
        )

    def _copy_from(self, source: Storage, src_key: str, dst_key: str, size: int) -> CopyReceipt:
        """Objects: rewrite, called again with the returned token until the service reports it done. The last
        answer holds the new object's resource, md5Hash and size included. (The base translates errors with
        src_key and both locations.)"""
        if not isinstance(source, GcsStorage):  # a subclass may widen can_copy_from
            raise StorageError(location=self.location, detail=f"cannot copy server-side from {source.location}")
        src_blob = source._bucket.blob(src_key)
        dst_blob = self._bucket.blob(dst_key)
        token: str | None = None
        while True:
            token, _done, _total = dst_blob.rewrite(src_blob, token=token, timeout=self._timeout, retry=DEFAULT_RETRY)
            if token is None:
                break
        md5 = _md5_hex(dst_blob)
        return CopyReceipt(
            checksum=f"md5:{md5}" if md5 else None, size=int(dst_blob.size) if dst_blob.size is not None else None
        )


class _Rewindable(io.RawIOBase):
    """A forward-only stream that remembers its last read, so an upload can `tell()` and, after a failed chunk,
    `seek()` back into it. google-cloud-storage reads exactly one chunk per request, so memory stays at one chunk.
    """

    def __init__(self, stream: BinaryIO, size: int, location: str, key: str) -> None:
        super().__init__()
        self._stream = stream
        self._size = size
        self._location = location
        self._key = key
        self._pos = 0  # position of the next byte handed out
        self._buf = b""  # the last block read from the stream ...
        self._buf_start = 0  # ... and where it starts

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: offset, io.SEEK_CUR: self._pos + offset, io.SEEK_END: self._size + offset}[whence]
        if not self._buf_start <= target <= self._buf_start + len(self._buf):
            raise io.UnsupportedOperation(f"can only seek within the last block read (asked for byte {target})")
        self._pos = target
        return target

    def read(self, size: int | None = -1) -> bytes:
        buf_end = self._buf_start + len(self._buf)
        if self._pos < buf_end:  # replaying after a seek back
            end = buf_end if size is None or size < 0 else min(buf_end, self._pos + size)
            data = self._buf[self._pos - self._buf_start : end - self._buf_start]
        else:
            want = self._size - self._pos if size is None or size < 0 else min(size, self._size - self._pos)
            data = read_exact(self._stream, want) if want > 0 else b""
            if len(data) < want:
                raise short_stream(self._location, self._key, self._pos + len(data), self._size)
            self._buf, self._buf_start = data, self._pos
        self._pos += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _md5_hex(blob: storage.Blob) -> str | None:
    return base64.b64decode(blob.md5_hash).hex() if blob.md5_hash else None


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return text.strip().splitlines()[0] if text and text.strip() else type(exc).__name__
