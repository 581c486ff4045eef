"""Where each configuration value came from, so errors and `config show` can name it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from milvus_backup.errors import ConfigError

SourceKind = Literal["default", "config", "env", "override", "inherited"]


@dataclass(frozen=True)
class Source:
    kind: SourceKind
    #: The key as the user wrote it: YAML key, environment variable or `--set` key.
    key: str = ""
    file: str | None = None

    def describe(self) -> str:
        if self.kind == "config":
            return f"key {self.key} in {self.file}"
        if self.kind == "env":
            return f"environment variable {self.key}"
        if self.kind == "override":
            return f"--set {self.key}"
        if self.kind == "inherited":
            return f"inherited from {self.key}"
        return "default"


@dataclass(frozen=True)
class Setting:
    value: Any
    source: Source

    def with_value(self, value: Any) -> Setting:
        return replace(self, value=value)


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def as_bool(setting: Setting) -> bool:
    value = setting.value
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(detail=f"{setting.source.describe()}: expected true or false, not {value!r}")
