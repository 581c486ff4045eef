"""Configuration: upstream's `backup.yaml` (v1 and v2 schemas), environment and `--set` overrides."""

from typing import Any

from milvus_backup.config.keys import V2_KEYS
from milvus_backup.config.loader import DEFAULT_CONFIG_NAME, LoadedConfig, load_config
from milvus_backup.config.model import Config, StorageConfig

MASK = "******"


def effective_rows(loaded: LoadedConfig) -> list[tuple[str, Any, str, str]]:
    """(key, typed value, source kind, source key) for every setting, secrets masked."""
    rows: list[tuple[str, Any, str, str]] = []
    for key, setting in loaded.settings.items():
        value = setting.value
        if V2_KEYS[key].secret:
            value = MASK if value else ""
        rows.append((key, value, setting.source.kind, setting.source.key))
    return rows


__all__ = ["DEFAULT_CONFIG_NAME", "Config", "LoadedConfig", "StorageConfig", "effective_rows", "load_config"]
