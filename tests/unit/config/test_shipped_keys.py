"""Every key in the shipped configs/backup.yaml is read by the code.

The proof is static: every module under src/milvus_backup except the config package is parsed, and each
attribute chain (`config.backup.concurrency.collections` -> config, backup, concurrency, collections) is
collected. A key counts as read when

* a chain rooted at a variable whose type is known to be a config model (a parameter or variable annotated
  with the class, or assigned from such a chain: `grpc = config.milvus.grpc`) reaches the key's field; a field
  of a class used in two places (StorageConfig for milvus.storage and backup.storage) then counts for both;
* or, untyped, its Python field name is accessed as an attribute; when two model classes with shipped keys
  have a field of that name (`collections` in backup's and in restore's concurrency section), the shortest
  suffix of the key's Python path that tells them apart (`backup.concurrency.collections`) must end a chain.

Keys that the Go tool's files may hold but nothing reads stay accepted by the models and are left out of the
shipped file; docs/config.md lists them.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from milvus_backup.config import model
from milvus_backup.config.keys import V2_KEYS
from milvus_backup.config.model import Config

REPO = Path(__file__).resolve().parents[3]
SHIPPED = REPO / "configs" / "backup.yaml"
DOCS = REPO / "docs" / "config.md"
SOURCE = REPO / "src" / "milvus_backup"
CONFIG_PACKAGE = SOURCE / "config"

#: Shipped keys that code being written now will read, which the read check skips meanwhile. Remove an entry as
#: soon as its reader lands (a warning says when).
PENDING: set[str] = set()
#: Read by the config loader itself (it picks the schema), which the scan leaves out.
READ_BY_LOADER = {"configVersion"}

#: A commented-out example key: `# accountName: ""`, `# port: 9000` (one value, no prose after it).
_EXAMPLE_KEY = re.compile(r'^(?P<indent>\s*)# (?P<key>[A-Za-z][A-Za-z0-9]*):(?P<value> (?:"[^"]*"|[^\s"]+))?\s*$')


# --- the shipped file --------------------------------------------------------------------------------------


def _leaves(node: dict, prefix: str = "") -> list[str]:
    keys = []
    for name, value in node.items():
        key = f"{prefix}{name}"
        keys += _leaves(value, key + ".") if isinstance(value, dict) else [key]
    return keys


def shipped_keys(text: str) -> list[str]:
    """Every leaf key the file sets (a list, like milvus.etcd.endpoints, is one leaf)."""
    return _leaves(yaml.safe_load(text) or {})


def example_keys(text: str) -> list[str]:
    """The keys present only as commented-out examples (`# accountName: ""`)."""
    uncommented = "\n".join(
        f"{m['indent']}{m['key']}:{m['value'] or ''}" if (m := _EXAMPLE_KEY.match(line)) else line
        for line in text.splitlines()
    )
    real = set(shipped_keys(text))
    return [key for key in shipped_keys(uncommented) if key not in real]


# --- keys -> model fields ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelField:
    key: str
    #: Python names from the root: ('backup', 'concurrency', 'collections').
    path: tuple[str, ...]
    #: The class that declares the field first (a subclass's redeclaration counts as its base's field).
    owner: type[BaseModel]

    @property
    def name(self) -> str:
        return self.path[-1]


def _model(annotation: object) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _owner(cls: type[BaseModel], name: str) -> type[BaseModel]:
    return next(c for c in reversed(cls.__mro__) if _model(c) and name in c.model_fields)


def _field_by_alias(cls: type[BaseModel], alias: str) -> str | None:
    for name, info in cls.model_fields.items():
        if alias in (info.alias, name):
            return name
    return None


def model_field(key: str) -> ModelField:
    """The model field a YAML key sets; KeyError when it sets none."""
    cls: type[BaseModel] | None = Config
    path: list[str] = []
    owner: type[BaseModel] = Config
    for part in key.split("."):
        name = _field_by_alias(cls, part) if cls else None
        if cls is None or name is None:
            raise KeyError(f"{key}: no model field for {part!r}")
        path.append(name)
        owner = _owner(cls, name)
        cls = _model(cls.model_fields[name].annotation)
    if cls is not None:
        raise KeyError(f"{key} is a section, not a value")
    return ModelField(key, tuple(path), owner)


# --- what the code reads -----------------------------------------------------------------------------------

_MODELS = {cls.__name__: cls for cls in vars(model).values() if _model(cls) and cls.__module__ == model.__name__}


@dataclass
class Reads:
    #: Every attribute chain; the root is the variable's name, or '?' when it is an expression.
    chains: set[tuple[str, ...]] = field(default_factory=set)
    #: Fields reached through a variable of known model type: (declaring class, Python name).
    typed: set[tuple[type[BaseModel], str]] = field(default_factory=set)


def _chain(node: ast.Attribute) -> tuple[str, ...]:
    parts: list[str] = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute):
        parts.append(current.attr)
        current = current.value
    parts.append(current.id if isinstance(current, ast.Name) else "?")
    return tuple(reversed(parts))


def _annotated_model(annotation: ast.expr | None) -> type[BaseModel] | None:
    """The config model an annotation names: `Config`, `model.StorageConfig`, `'Config'`, `Config | None`."""
    if annotation is None:
        return None
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return None
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return _annotated_model(annotation.left) or _annotated_model(annotation.right)
    name = annotation.id if isinstance(annotation, ast.Name) else getattr(annotation, "attr", None)
    return _MODELS.get(name) if isinstance(name, str) else None


def _walk_typed(cls: type[BaseModel], attrs: Iterable[str], reads: Reads) -> type[BaseModel] | None:
    """Follow attributes from a value of model type `cls`; return the model type reached, if any."""
    current: type[BaseModel] | None = cls
    for attr in attrs:
        if current is None or attr not in current.model_fields:
            return None
        reads.typed.add((_owner(current, attr), attr))
        current = _model(current.model_fields[attr].annotation)
    return current


def _own_nodes(scope: ast.AST) -> Iterable[ast.AST]:
    """The nodes of a module or function, without those of the functions defined inside it."""
    for child in ast.iter_child_nodes(scope):
        yield child
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _own_nodes(child)


def _scan_scope(scope: ast.AST, inherited: dict[str, type[BaseModel]], reads: Reads) -> None:
    types = dict(inherited)
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        args = scope.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None:
                types.pop(arg.arg, None)
                if (cls := _annotated_model(arg.annotation)) is not None:
                    types[arg.arg] = cls
    nodes = list(_own_nodes(scope))
    for node in nodes:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and (cls := _annotated_model(node.annotation)) is not None
        ):
            types[node.target.id] = cls
    changed = True
    while changed:  # `grpc = config.milvus.grpc`: grpc is a GrpcConfig when config is a Config
        changed = False
        for node in nodes:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                target, value = node.targets[0].id, node.value
                if target in types or not isinstance(value, (ast.Attribute, ast.Name)):
                    continue
                chain = _chain(value) if isinstance(value, ast.Attribute) else (value.id,)
                if chain[0] in types and (cls := _walk_typed(types[chain[0]], chain[1:], Reads())) is not None:
                    types[target] = cls
                    changed = True
    for node in nodes:
        if isinstance(node, ast.Attribute):
            chain = _chain(node)
            reads.chains.add(chain)
            if chain[0] in types:
                _walk_typed(types[chain[0]], chain[1:], reads)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            _scan_scope(node, types, reads)


def scan(sources: Iterable[tuple[str, str]]) -> Reads:
    """The attribute reads in these (file name, Python source) pairs."""
    reads = Reads()
    for name, text in sources:
        _scan_scope(ast.parse(text, filename=name), {}, reads)
    return reads


def project_sources() -> list[tuple[str, str]]:
    return [
        (str(path.relative_to(REPO)), path.read_text(encoding="utf-8"))
        for path in sorted(SOURCE.rglob("*.py"))
        if CONFIG_PACKAGE not in path.parents
    ]


def required_suffix(item: ModelField, universe: Iterable[ModelField]) -> tuple[str, ...]:
    """The shortest end of the key's Python path that no field of the same name on another class shares."""
    rivals = [other.path for other in universe if other.name == item.name and other.owner is not item.owner]
    for size in range(1, len(item.path) + 1):
        suffix = item.path[-size:]
        if not any(path[-size:] == suffix for path in rivals):
            return suffix
    return item.path


def is_read(item: ModelField, reads: Reads, universe: Iterable[ModelField]) -> bool:
    if (item.owner, item.name) in reads.typed:
        return True
    suffix = required_suffix(item, universe)
    if len(suffix) == 1:
        return any(item.name in chain[1:] for chain in reads.chains)
    return any(chain[-len(suffix) :] == suffix and len(chain) > len(suffix) for chain in reads.chains)


def unread(keys: Iterable[str], reads: Reads, universe: Iterable[str]) -> list[str]:
    """The keys no read in `reads` covers, each with the attribute access that would."""
    fields = [model_field(key) for key in universe]
    missing = []
    for key in keys:
        item = model_field(key)
        if not is_read(item, reads, fields):
            needed = ".".join(required_suffix(item, fields))
            missing.append(f"{key} (Python field {item.owner.__name__}.{item.name}; no code reads `.{needed}`)")
    return missing


# --- the tests ---------------------------------------------------------------------------------------------

TEXT = SHIPPED.read_text(encoding="utf-8")
REAL = shipped_keys(TEXT)
EXAMPLES = example_keys(TEXT)
UNIVERSE = REAL + EXAMPLES


def _report(missing: list[str], what: str) -> str:
    return (
        f"{what} that no code under src/milvus_backup reads (take each out of configs/backup.yaml and list it "
        "in docs/config.md as accepted for compatibility, or read it):\n  " + "\n  ".join(missing)
    )


def test_every_shipped_key_is_a_model_field():
    assert REAL, "found no keys in configs/backup.yaml"
    for key in REAL:
        assert key in V2_KEYS, f"configs/backup.yaml: {key} is not a v2 key"
        model_field(key)


def test_every_commented_example_key_is_a_model_field():
    assert {
        "milvus.storage.accountName",
        "milvus.storage.localPath",
        "milvus.storage.auth.sessionToken",
        "backup.storage.provider",
    } <= set(EXAMPLES)
    for key in EXAMPLES:
        assert key in V2_KEYS, f"configs/backup.yaml: the commented-out {key} is not a v2 key"
        model_field(key)


def test_every_shipped_key_is_read_by_the_code():
    keys = [key for key in REAL if key not in PENDING | READ_BY_LOADER]
    missing = unread(keys, scan(project_sources()), UNIVERSE)
    assert not missing, _report(missing, "Keys in configs/backup.yaml")


def test_every_commented_example_key_is_read_by_the_code():
    missing = unread(EXAMPLES, scan(project_sources()), UNIVERSE)
    assert not missing, _report(missing, "Commented-out example keys in configs/backup.yaml")


def test_pending_keys_are_shipped():
    """A pending key the code reads by now only warns: the entry should go, so the read check covers it again."""
    assert set(REAL) >= PENDING
    done = sorted(key for key in PENDING if not unread([key], scan(project_sources()), UNIVERSE))
    if done:
        warnings.warn(f"the code reads {done} now: remove them from PENDING in {Path(__file__).name}", stacklevel=1)


def test_config_version_is_what_picks_the_schema(tmp_path):
    from milvus_backup.config import load_config

    assert set(REAL) >= READ_BY_LOADER
    assert load_config(str(SHIPPED), env={}, explicit=True).schema == "v2"
    without = tmp_path / "backup.yaml"
    without.write_text(re.sub(r"(?m)^configVersion:.*$", "", TEXT))
    assert load_config(str(without), env={}, explicit=True).schema == "v1"


def _docs_table(heading: str) -> list[list[str]]:
    """The rows of the table under `## heading` in docs/config.md, backquotes taken off the cells."""
    section = DOCS.read_text(encoding="utf-8").split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split(" | ") for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip().strip("`") for cell in row] for row in rows]


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "empty" if value in ("", None) else str(value)


def test_docs_describe_every_shipped_key_with_its_default():
    rows = _docs_table("Keys")
    documented = [row[0] for row in rows]
    assert len(documented) == len(set(documented)), "docs/config.md: a key is listed twice under Keys"
    assert set(REAL) <= set(documented), f"docs/config.md does not describe {sorted(set(REAL) - set(documented))}"
    assert set(documented) <= set(UNIVERSE), (
        f"docs/config.md describes {sorted(set(documented) - set(UNIVERSE))}, which configs/backup.yaml does not show"
    )
    shipped = yaml.safe_load(TEXT)
    for key, default, _ in rows:
        assert default == _shown(V2_KEYS[key].default), f"docs/config.md: default of {key}"
        if key in REAL:
            value = shipped
            for part in key.split("."):
                value = value[part]
            assert value == V2_KEYS[key].default, f"configs/backup.yaml: {key} is not the default"


def test_documented_no_effect_keys_are_accepted_and_not_shipped():
    listed = [row[0] for row in _docs_table("Accepted for compatibility, no effect")]
    assert listed, "docs/config.md: the table of keys with no effect is empty"
    for key in listed:
        assert key in V2_KEYS, f"docs/config.md lists {key} as accepted, but the models do not accept it"
        assert key not in UNIVERSE, f"docs/config.md says {key} has no effect, but configs/backup.yaml shows it"
    reads = scan(project_sources())
    fields = [model_field(key) for key in V2_KEYS]
    unread_anywhere = {key for key in V2_KEYS if not is_read(model_field(key), reads, fields)}
    undocumented = sorted(unread_anywhere - set(listed) - PENDING - READ_BY_LOADER)
    assert not undocumented, f"docs/config.md: list these keys, which nothing reads, as with no effect: {undocumented}"


# --- the check itself can fail ------------------------------------------------------------------------------

CONCURRENCY = ["backup.concurrency.collections", "restore.concurrency.collections"]
STORAGE = ["milvus.storage.bucketName", "backup.storage.bucketName"]


def test_a_key_nobody_reads_is_reported_by_name():
    reads = scan([("fake.py", "def f(config):\n    return config.restore.concurrency.collections\n")])
    missing = unread(CONCURRENCY, reads, CONCURRENCY)
    assert len(missing) == 1 and missing[0].startswith("backup.concurrency.collections ")
    assert "`.backup.concurrency.collections`" in missing[0]
    with pytest.raises(AssertionError, match=r"(?s)Keys in configs/backup\.yaml.*backup\.concurrency\.collections"):
        assert not missing, _report(missing, "Keys in configs/backup.yaml")


def test_an_ambiguous_name_needs_its_distinguishing_suffix():
    reads = scan([("fake.py", "def f(section):\n    return section.concurrency.collections\n")])
    assert len(unread(CONCURRENCY, reads, CONCURRENCY)) == 2
    reads = scan([("fake.py", "def f(config):\n    return config.backup.concurrency.collections + 1\n")])
    assert [m.split()[0] for m in unread(CONCURRENCY, reads, CONCURRENCY)] == ["restore.concurrency.collections"]


def test_a_typed_variable_resolves_the_class():
    source = (
        "from milvus_backup.config import Config\n"
        "def f(config: Config):\n"
        "    concurrency = config.restore.concurrency\n"
        "    return concurrency.collections\n"
    )
    assert [m.split()[0] for m in unread(CONCURRENCY, scan([("fake.py", source)]), CONCURRENCY)] == [
        "backup.concurrency.collections"
    ]
    # A field of a shared class read once counts for every place the class is used.
    reads = scan([("fake.py", "def f(cfg: 'StorageConfig | None'):\n    return cfg.bucket_name\n")])
    assert unread(STORAGE, reads, STORAGE) == []
    assert unread(STORAGE, scan([("fake.py", "def f(cfg):\n    return cfg.region\n")]), STORAGE) == [
        f"{key} (Python field StorageConfig.bucket_name; no code reads `.bucket_name`)" for key in STORAGE
    ]


def test_the_scan_leaves_out_the_config_package():
    names = [name for name, _ in project_sources()]
    assert names and not any(name.startswith("src/milvus_backup/config/") for name in names)
