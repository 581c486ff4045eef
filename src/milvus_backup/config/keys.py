"""The flat view of the configuration: every leaf as a dotted YAML key (`milvus.grpc.port`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, SecretStr

from milvus_backup.config.model import Config


@dataclass(frozen=True)
class KeySpec:
    key: str
    default: Any
    secret: bool
    is_list: bool


def _walk(model: type[BaseModel], prefix: str, out: dict[str, KeySpec]) -> None:
    for name, field in model.model_fields.items():
        alias = field.alias or name
        key = f"{prefix}{alias}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            _walk(annotation, key + ".", out)
            continue
        default = field.get_default(call_default_factory=True)
        secret = isinstance(default, SecretStr)
        if secret:
            default = default.get_secret_value()
        out[key] = KeySpec(key, default, secret, isinstance(default, list))


def _build() -> dict[str, KeySpec]:
    out: dict[str, KeySpec] = {}
    _walk(Config, "", out)
    return out


#: Every v2 leaf key, in the order of the model.
V2_KEYS: dict[str, KeySpec] = _build()
#: Lower-cased key -> canonical key: upstream reads keys case-insensitively.
V2_KEYS_LOWER = {key.lower(): key for key in V2_KEYS}

#: In a v2 file, only credentials come from the environment (upstream: Kubernetes service-link variables
#: such as MILVUS_PORT=tcp://... silently overrode addresses).
V2_ENV: dict[str, str] = {
    "MILVUS_USER": "milvus.user",
    "MILVUS_PASSWORD": "milvus.password",
    "ZILLIZ_CLOUD_API_KEY": "zillizCloud.apiKey",
    "MILVUS_BACKUP_SERVER_TOKEN": "server.authToken",
}
for _side, _env in (("milvus.storage", "MILVUS_STORAGE"), ("backup.storage", "BACKUP_STORAGE")):
    V2_ENV[f"{_env}_ACCOUNT_NAME"] = f"{_side}.accountName"
    V2_ENV[f"{_env}_AUTH_ACCESS_KEY_ID"] = f"{_side}.auth.accessKeyID"
    V2_ENV[f"{_env}_AUTH_SECRET_ACCESS_KEY"] = f"{_side}.auth.secretAccessKey"
    V2_ENV[f"{_env}_AUTH_SESSION_TOKEN"] = f"{_side}.auth.sessionToken"
    V2_ENV[f"{_env}_AUTH_ACCOUNT_KEY"] = f"{_side}.auth.accountKey"
    V2_ENV[f"{_env}_AUTH_CREDENTIALS_FILE"] = f"{_side}.auth.credentialsFile"

#: backup.storage.* takes milvus.storage.*'s value when it is not set itself, except for these.
NOT_INHERITED = {"rootPath", "milvusAddress", "milvusPort"}
STORAGE_SUFFIXES = [key.removeprefix("milvus.storage.") for key in V2_KEYS if key.startswith("milvus.storage.")]


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """{'a.b': 1} -> {'a': {'b': 1}}"""
    tree: dict[str, Any] = {}
    for key, value in flat.items():
        node = tree
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree
