"""The one door to Milvus: pymilvus stays inside this package, callers see our own types and errors."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import grpc
from pymilvus import MilvusClient
from pymilvus.exceptions import MilvusException

from milvus_backup.errors import MilvusAuthError, MilvusError, MilvusUnavailableError

logger = logging.getLogger(__name__)

TlsMode = Literal["disabled", "server", "mutual"]

# Words Milvus and pymilvus use when the credentials are wrong (there is no dedicated error code on 2.3).
_AUTH_WORDS = ("auth", "username", "password", "credential", "unauthenticated")


@dataclass(frozen=True)
class MilvusParams:
    address: str
    port: int
    user: str = ""
    password: str = ""
    tls_mode: TlsMode = "disabled"
    ca_cert_path: str = ""
    server_name: str = ""
    mtls_cert_path: str = ""
    mtls_key_path: str = ""
    timeout: float = 30.0

    @property
    def endpoint(self) -> str:
        return f"{self.address}:{self.port}"

    def __repr__(self) -> str:  # never show the password
        return f"MilvusParams({self.endpoint}, user={self.user!r}, tls={self.tls_mode})"


@contextlib.contextmanager
def translate_errors(address: str) -> Iterator[None]:
    """Turn pymilvus and gRPC failures into our errors, once, here."""
    try:
        yield
    except MilvusException as exc:
        raise _classify(address, exc.message or str(exc), unavailable=exc.code == 2) from exc
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else None
        detail = exc.details() if hasattr(exc, "details") else str(exc)
        if code == grpc.StatusCode.UNAUTHENTICATED:
            raise MilvusAuthError(address=address, detail=detail) from exc
        unavailable = code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        raise _classify(address, detail or str(code), unavailable=unavailable) from exc


def _classify(address: str, detail: str, *, unavailable: bool) -> MilvusError:
    if any(word in detail.lower() for word in _AUTH_WORDS) and "connecting" not in detail.lower():
        return MilvusAuthError(address=address, detail=detail)
    if unavailable:
        return MilvusUnavailableError(address=address, detail=detail)
    return MilvusError(address=address, detail=detail)


class MilvusConnection:
    """A connection to one Milvus proxy."""

    def __init__(self, params: MilvusParams) -> None:
        self.params = params
        self.address = params.endpoint
        scheme = "https" if params.tls_mode != "disabled" else "http"
        tls: dict[str, object] = {}
        if params.tls_mode == "server":
            tls = {"secure": True, "server_pem_path": params.ca_cert_path, "server_name": params.server_name}
        elif params.tls_mode == "mutual":
            tls = {
                "secure": True,
                "ca_pem_path": params.ca_cert_path,
                "client_pem_path": params.mtls_cert_path,
                "client_key_path": params.mtls_key_path,
                "server_name": params.server_name,
            }
        with translate_errors(self.address):
            self._client = MilvusClient(
                uri=f"{scheme}://{params.endpoint}",
                user=params.user,
                password=params.password,
                timeout=params.timeout,
                dedicated=True,
                **tls,
            )
            # Connecting alone does not prove the credentials: a real call does.
            self._version = str(self._client.get_server_version())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.close()

    def __enter__(self) -> MilvusConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def server_version(self) -> str:
        return self._version

    def list_databases(self) -> list[str]:
        with translate_errors(self.address):
            return sorted(self._client.list_databases())
