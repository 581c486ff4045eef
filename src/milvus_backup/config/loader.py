"""Load `backup.yaml` (v1 or v2 schema), then environment, then `--set`, into one validated `Config`.

Precedence per value: `--set` > environment > file > default, as upstream.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import SecretStr, ValidationError

from milvus_backup.config import v1
from milvus_backup.config.keys import NOT_INHERITED, STORAGE_SUFFIXES, V2_ENV, V2_KEYS, V2_KEYS_LOWER, nest
from milvus_backup.config.model import (
    AUTH_TYPES_BY_PROVIDER,
    CREDENTIALS_BY_AUTH_TYPE,
    DEFAULT_AUTH_TYPES,
    PROVIDER_ALIASES,
    Config,
)
from milvus_backup.config.source import Setting, Source
from milvus_backup.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_CONFIG_NAME = "backup.yaml"
Schema = Literal["v1", "v2"]


@dataclass
class LoadedConfig:
    config: Config
    path: Path | None
    schema: Schema
    #: Every v2 key with its effective value and where it came from.
    settings: dict[str, Setting]
    warnings: list[str] = field(default_factory=list)


def config_candidates(name: str, env: Mapping[str, str]) -> list[Path]:
    """Where the file is looked for, in order: the path as given, `$MILVUSCONF/<basename>`,
    `./configs/<basename>`."""
    candidates = [Path(name)]
    base = Path(name).name
    if env.get("MILVUSCONF"):
        candidates.append(Path(env["MILVUSCONF"]) / base)
    candidates.append(Path("configs") / base)
    return candidates


def find_config_file(name: str, env: Mapping[str, str]) -> Path | None:
    """The first of `config_candidates` that is a file."""
    return next((path for path in config_candidates(name, env) if path.is_file()), None)


def load_config(
    name: str = DEFAULT_CONFIG_NAME,
    overrides: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    *,
    explicit: bool = False,
) -> LoadedConfig:
    """Load the configuration. `explicit` means the user named the file, so it must exist."""
    env = os.environ if env is None else env
    path = find_config_file(name, env)
    tried = ", ".join(str(candidate) for candidate in config_candidates(name, env))
    if path is None and explicit and Path(name).is_dir():
        raise ConfigError(
            detail=f"config file {name!r} is a directory",
            hint=f"Pass --config with the path of the file, e.g. {Path(name) / DEFAULT_CONFIG_NAME}.",
        )
    if path is None and explicit:
        raise ConfigError(
            detail=f"config file {name!r} not found (looked for {tried})",
            hint="Pass --config with the path of your backup.yaml.",
        )
    if path is None:
        # Said first, before anything can fail on a default (s3://localhost:9000/a-bucket is nobody's storage).
        logger.warning("no config file found (looked for %s): using defaults, environment and --set", tried)
    raw = _read_yaml(path) if path else {}
    schema = _schema(raw, path)
    warnings: list[str] = []
    if schema == "v1" and path is not None:
        # A note, not a warning: v1 files are upstream's own format and load as they are (`config show` tells).
        logger.info("%s uses the v1 schema (no `configVersion: v2`); it is translated to v2", path)
    known_lower = v1.V1_KEYS_LOWER if schema == "v1" else V2_KEYS_LOWER
    values: dict[str, Setting] = {}
    _flatten(raw, "", known_lower, str(path), schema, values, warnings)
    env_names = v1.ENV if schema == "v1" else V2_ENV
    for env_name, key in env_names.items():
        if env_name in env:
            values[key] = Setting(env[env_name], Source("env", env_name))
    for key, value in _parse_overrides(overrides):
        target = _override_target(key, env_names, known_lower)
        values[target] = Setting(value, Source("override", key))
    if schema == "v1":
        values = v1.translate(values, warnings)
    settings = _complete(values)
    _check_credentials(settings)
    config = _validate(settings)
    settings = {key: setting.with_value(_typed(config, key)) for key, setting in settings.items()}
    for warning in warnings:
        logger.warning(warning)
    return LoadedConfig(config, path, schema, settings, warnings)


#: libyaml's safe loader where PyYAML was built with it (its wheels are): the same documents, read much faster,
#: and every command reads the config (docs/benchmarks.md, "Measurements behind the code").
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise ConfigError(detail=f"{path} is not valid YAML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(detail=f"cannot read {path}: {exc.strerror}") from exc
    if data is None:
        # An empty file is more likely a mistake (a failed template, the wrong file) than a wish for the defaults.
        raise ConfigError(
            detail=f"{path} is empty",
            hint="Start from configs/backup.yaml; to use the defaults, environment and --set only, remove the file.",
        )
    if not isinstance(data, dict):
        raise ConfigError(
            detail=f"{path} holds a YAML {_yaml_kind(data)}, not a mapping of keys (such as `milvus:`) at the top "
            "level",
            hint="Start from configs/backup.yaml.",
        )
    return data


def _yaml_kind(data: object) -> str:
    if isinstance(data, list):
        return "list"
    if isinstance(data, str):
        return "string"
    return "scalar"


def _schema(raw: dict[str, Any], path: Path | None) -> Schema:
    if path is None:
        return "v2"
    version = next((v for k, v in raw.items() if str(k).lower() == "configversion"), None)
    if version is None or str(version) == "v1":
        return "v1"
    if str(version) == "v2":
        return "v2"
    raise ConfigError(detail=f"key configVersion in {path}: must be v1 or v2, not {version!r}")


def _flatten(
    node: dict[str, Any],
    prefix: str,
    known_lower: dict[str, str],
    file: str,
    schema: Schema,
    out: dict[str, Setting],
    warnings: list[str],
) -> None:
    for name, value in node.items():
        written = f"{prefix}{name}"
        if written.lower() == "configversion":
            continue
        canonical = known_lower.get(written.lower())
        if canonical is not None:
            out[canonical] = Setting(value, Source("config", written, file))
        elif isinstance(value, dict):
            _flatten(value, written + ".", known_lower, file, schema, out, warnings)
        elif value is not None or not any(k.startswith(written.lower() + ".") for k in known_lower):
            warnings.append(_unknown_key_warning(written, file, schema))


def _unknown_key_warning(key: str, file: str, schema: Schema) -> str:
    if schema == "v2":
        replacement = v1.describe_replacements().get(key.lower())
        if replacement:
            return f"{file}: {key} is a v1 key and is ignored in a v2 file; use {replacement}."
    return f"{file}: unknown key {key} is ignored."


def _parse_overrides(overrides: Sequence[str]) -> list[tuple[str, str]]:
    """`--set a=1,b=2` and repeated `--set` both work; a comma piece without `=` continues the previous
    value, so `--set milvus.etcd.endpoints=h1:2379,h2:2379` keeps both endpoints."""
    pairs: list[tuple[str, str]] = []
    for item in overrides:
        for piece in item.split(","):
            if "=" in piece:
                key, value = piece.split("=", 1)
                if not key.strip():
                    raise ConfigError(detail=f"--set {item!r}: expected KEY=VALUE")
                pairs.append((key.strip(), value))
            elif pairs:
                key, value = pairs[-1]
                pairs[-1] = (key, f"{value},{piece}")
            else:
                raise ConfigError(detail=f"--set {item!r}: expected KEY=VALUE")
    return pairs


def _override_target(key: str, env_names: dict[str, str], known_lower: dict[str, str]) -> str:
    if key.upper() in env_names:
        return env_names[key.upper()]
    canonical = known_lower.get(key.lower())
    if canonical is None:
        raise ConfigError(detail=f"--set {key}: unknown configuration key")
    return canonical


def _complete(values: dict[str, Setting]) -> dict[str, Setting]:
    """Fill defaults, let backup.storage inherit from milvus.storage, normalise provider names."""
    settings: dict[str, Setting] = {}
    for key, spec in V2_KEYS.items():
        if key in values:
            settings[key] = values[key]
        elif key.startswith("backup.storage.") and key.removeprefix("backup.storage.") not in NOT_INHERITED:
            source_key = "milvus.storage." + key.removeprefix("backup.storage.")
            settings[key] = Setting(None, Source("inherited", source_key))
        else:
            settings[key] = Setting(spec.default, Source("default"))
    for suffix in STORAGE_SUFFIXES:
        key = f"backup.storage.{suffix}"
        if settings[key].source.kind == "inherited":
            settings[key] = settings[key].with_value(settings[f"milvus.storage.{suffix}"].value)
    for side in ("milvus", "backup"):
        key = f"{side}.storage.provider"
        name = str(settings[key].value).strip().lower()
        settings[key] = settings[key].with_value(PROVIDER_ALIASES.get(name, name))
    for key, spec in V2_KEYS.items():
        value = settings[key].value
        if spec.is_list and isinstance(value, str):
            settings[key] = settings[key].with_value([p.strip() for p in value.split(",") if p.strip()])
    return settings


def _check_credentials(settings: dict[str, Setting]) -> None:
    """A credential the chosen auth type does not read is a mistake worth stopping for (upstream v2)."""
    for side in ("milvus", "backup"):
        prefix = f"{side}.storage."
        provider = str(settings[prefix + "provider"].value)
        auth = settings[prefix + "auth.type"]
        allowed = AUTH_TYPES_BY_PROVIDER.get(provider, DEFAULT_AUTH_TYPES)
        if provider != "local" and auth.value not in allowed:
            raise ConfigError(
                detail=f"{prefix}auth.type ({auth.source.describe()}): {auth.value!r} is not valid for provider "
                f"{provider!r}; use one of {', '.join(allowed)}"
            )
        used = CREDENTIALS_BY_AUTH_TYPE.get(str(auth.value), ())
        for credential in (
            "accessKeyID",
            "secretAccessKey",
            "sessionToken",
            "accountKey",
            "credentialsFile",
            "endpoint",
        ):
            setting = settings[f"{prefix}auth.{credential}"]
            if setting.source.kind in ("config", "env", "override") and setting.value and credential not in used:
                raise ConfigError(
                    detail=f"{prefix}auth.{credential} ({setting.source.describe()}) is set, but auth.type "
                    f"{auth.value!r} does not use it"
                )
        for key, only_for in (("accountName", "azure"), ("localPath", "local")):
            setting = settings[prefix + key]
            if setting.source.kind in ("config", "env", "override") and setting.value and provider != only_for:
                raise ConfigError(
                    detail=f"{prefix}{key} ({setting.source.describe()}) applies only to provider {only_for!r}"
                )


def _typed(config: Config, key: str) -> Any:
    node: Any = config.model_dump(by_alias=True)
    for part in key.split("."):
        node = node[part]
    return node.get_secret_value() if isinstance(node, SecretStr) else node


def _validate(settings: dict[str, Setting]) -> Config:
    tree = nest({key: setting.value for key, setting in settings.items()})
    try:
        return Config.model_validate(tree)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
            setting = settings.get(key)
            where = f" ({setting.source.describe()})" if setting else ""
            shown = "***" if key in V2_KEYS and V2_KEYS[key].secret else repr(error.get("input"))
            problems.append(f"{key}{where}: {shown}: {error['msg']}")
        raise ConfigError(detail="; ".join(problems)) from exc
