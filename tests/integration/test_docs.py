"""The docs are tests: every fenced block of README.md and docs/*.md is run or checked here, as written.

Shell blocks (bash, sh, shell, console) run line by line, in document order, against the real local-storage
Milvus 2.3.5 of the test rig (with the fixture set of dataset.py). Each `milvus-backup` line runs in a working
directory of its own whose `configs/backup.yaml` (the default lookup path) points at that Milvus and at a fresh
backup directory, with the venv's `bin` first on PATH. What a line reads is set up before it: the collections
the examples name exist (`coll`, `books`, `db1.c2` are made here), and the backups a line names (`my_backup`,
`nightly`) are copied into its backup directory from backups made once by this module. What a line creates in
Milvus is dropped after it, so the shared Milvus stays as the other tests expect (the last test checks it).

The only substitutions are placeholders: the doc's Milvus ports (19530, 19531) become the real one; a server's
documented port (8080, 9090) becomes a free port when it is taken, and so does `localhost:<port>` in the curl
lines that talk to it; `<requestId>` is the id the create answered; `...` in `export NAME=...` is a value. curl
lines are sent verbatim (no Content-Type added) to the `milvus-backup server` lines of the same file, started as
written in the background and stopped when the file is done.

Lines that cannot run inside the suite (the suite itself, installs, the hour-long benchmark) are listed in
NOT_RUN with the test or CI step that runs them, which is asserted to exist. Blocks of other kinds: python is
run by test_library.py, json is parsed (a manifest example by the manifest reader), yaml is loaded by the config
loader, the backup layout is compared with a real backup's files, and plain diagrams are listed in NOT_CODE. A
block or line that is none of these fails the test until someone decides how it is tested.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import milvus_backup
from milvus_backup import wiring
from milvus_backup.meta.manifest import MANIFEST_FORMAT, MANIFEST_FORMAT_REFERENCES, Manifest
from milvus_backup.meta.references import REFERENCES_FORMAT, References
from tests.integration.conftest import local_config
from tests.rig import proc
from tests.rig.milvus import MilvusInstance
from tests.rig.ports import LOCALHOST, free_port, log_tail, port_open

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DOC_FILES = ["README.md", *sorted(f"docs/{p.name}" for p in (REPO / "docs").glob("*.md"))]
SHELL = {"bash", "sh", "shell", "console"}
BIN = Path(sys.executable).parent
DOC_MILVUS_PORTS = re.compile(r"\b1953[01]\b")
LINE_TIMEOUT = 300

# Shell lines the suite cannot run as written, with why and what runs them instead: a test function
# ("path::name", asserted to exist) or a CI step (".ci/run", asserted to run scripts/test).
NOT_RUN: dict[str, tuple[str, str]] = {
    "./scripts/test": ("the suite itself (it would run this test again)", ".ci/run"),
    "./scripts/test tests/unit": ("the suite's installer and a part of the suite", ".ci/run"),
    "./scripts/test -k storage": ("the suite's installer and a part of the suite", ".ci/run"),
    "pip install .": (
        "installs into the environment running the suite",
        "tests/integration/test_packaging.py::test_fresh_venv_install_gives_the_command",
    ),
    "./scripts/demo": (
        "installs a venv and starts its own Milvus (minutes)",
        "tests/integration/test_packaging.py::test_demo_installs_only_what_it_needs_and_runs_from_a_clean_copy",
    ),
    ".venv/bin/python -m bench": (
        "the full benchmark, about an hour",
        "tests/integration/test_bench_smoke.py::test_benchmark_smoke",
    ),
    ".venv/bin/python -m bench --incremental-only": (
        "the incremental figure at full size, about ten minutes",
        "tests/integration/test_bench_smoke.py::test_benchmark_smoke",
    ),
    ".venv/bin/python -m bench.year": (
        "365 incremental creates, about a quarter of an hour",
        "tests/integration/test_bench_smoke.py::test_year_smoke",
    ),
}

# Fenced blocks without a language that are not code, keyed by (file, first line).
NOT_CODE: dict[tuple[str, str], str] = {
    ("docs/design.md", "cli/  (Typer, one module per command)        api/  (FastAPI: routes, schemas, jobs)"): (
        "a diagram of the layers; scripts/lint's import contracts (lint-imports) enforce it"
    ),
}

# Fenced blocks without a language that show the backup layout: compared with a real backup's files.
LAYOUT: set[tuple[str, str]] = {
    (
        "docs/format.md",
        "<root>/NAME/binlogs/insert_log/<collection id>/<partition id>/<group id>/<segment id>/<field id>/<log id>",
    ),
}

# Python blocks and the test that runs each one as written.
PYTHON: dict[tuple[str, str], str] = {
    ("docs/library.md", "import milvus_backup"): "tests/integration/test_library.py::test_the_documented_example_runs",
}

# Collections the examples name that the fixture set lacks; made by this module and dropped at its end.
OWN = (("default", "coll"), ("default", "books"), ("db1", "c2"))
# The fixture set of dataset.py, which the examples read and must leave as they found it.
DATASET = (("default", "c1"), ("default", "c2"), ("db1", "c1"), ("db1", "c3"), ("db2", "c4"))
# The backups the examples read, made once by this module: name -> -a selection. nightly's db2 holds a collection
# dropped after the backup (so `restore -d db2` has something to create) and its db1 only a collection of this
# module (so `restore -a '{"db1":[]}' --drop_exist_collection` replaces nothing of the fixture set).
MASTERS = {
    "my_backup": '{"default":["coll"],"db1":["c1"]}',
    "nightly": '{"default":["c1"],"db1":["c2"],"db2":["articles"]}',
    "monday": '{"default":["coll"]}',
    "tuesday": '{"default":["coll"]}',
}
# Masters made incremental, each against its base (a master made before it): tuesday references monday's bytes.
INCREMENTAL_MASTERS = {"tuesday": "monday"}
DROPPED_AFTER_MASTERS = (("db2", "articles"),)


# --- reading the docs -------------------------------------------------------------------------------------------

FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")


@dataclass(frozen=True)
class Block:
    file: str
    line: int  # of the opening fence
    lang: str
    lines: tuple[str, ...]

    @property
    def first(self) -> str:
        return next((line.strip() for line in self.lines if line.strip()), "")

    @property
    def key(self) -> tuple[str, str]:
        return (self.file, self.first)


@dataclass(frozen=True)
class Line:
    """One shell command of a block, as written (a trailing comment included)."""

    file: str
    number: int
    text: str

    @property
    def command(self) -> str:
        return " ".join(strip_comment(self.text).split())

    def __str__(self) -> str:
        return f"{self.file}:{self.number}: {self.text}"


def read_blocks(file: str) -> list[Block]:
    blocks: list[Block] = []
    opened: tuple[int, str, str] | None = None
    body: list[str] = []
    for number, text in enumerate((REPO / file).read_text().splitlines(), 1):
        match = FENCE.match(text)
        if opened is None and match:
            opened, body = (number, match[1], match[2].lower()), []
        elif opened is not None and match and match[1].startswith(opened[1]) and not match[2]:
            blocks.append(Block(file, opened[0], opened[2], tuple(body)))
            opened = None
        elif opened is not None:
            body.append(text)
    assert opened is None, f"{file}:{opened[0] if opened else 0}: a fence is never closed"
    return blocks


def all_blocks() -> list[Block]:
    return [block for file in DOC_FILES for block in read_blocks(file)]


def strip_comment(text: str) -> str:
    """The command without a trailing `# comment` (a # inside quotes or a word is not one)."""
    quote = ""
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i].rstrip()
    return text.rstrip()


def shell_lines(block: Block) -> list[Line]:
    lines: list[Line] = []
    pending = ""
    start = 0
    for offset, raw in enumerate(block.lines, 1):
        text = raw.strip()
        if block.lang == "console":  # only the prompted lines are commands; the rest is their output
            if not text.startswith("$ ") and not pending:
                continue
            text = text.removeprefix("$ ")
        if not pending:
            start = block.line + offset
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        text, pending = pending + text, ""
        if strip_comment(text):
            lines.append(Line(block.file, start, text))
    return lines


def doc_lines(file: str) -> list[Line]:
    return [line for block in read_blocks(file) if block.lang in SHELL for line in shell_lines(block)]


# --- accounting: every block is run or listed -------------------------------------------------------------------


def test_every_block_is_run_or_listed():
    unaccounted = []
    for block in all_blocks():
        if block.lang in SHELL:
            for line in shell_lines(block):
                if line.command not in NOT_RUN and runner_for(line) is None:
                    unaccounted.append(f"{line}: no runner for this line (add one, or list it in NOT_RUN)")
        elif block.lang in ("json", "yaml", "yml"):
            pass  # test_json_and_yaml_examples
        elif block.lang == "promql":
            pass  # tests/integration/test_schedules.py: the metrics they name are what the server exposes
        elif block.lang == "python":
            if block.key not in PYTHON:
                unaccounted.append(f"{block.file}:{block.line}: python block {block.first!r} is run by no test")
        elif block.lang == "":
            if block.key not in NOT_CODE and block.key not in LAYOUT:
                unaccounted.append(f"{block.file}:{block.line}: text block {block.first!r}: not in NOT_CODE or LAYOUT")
        else:
            unaccounted.append(f"{block.file}:{block.line}: a {block.lang} block: decide how it is tested")
    assert not unaccounted, "\n".join(unaccounted)


def test_the_tables_name_what_is_there_and_what_runs_it():
    blocks = all_blocks()
    commands = {line.command for block in blocks if block.lang in SHELL for line in shell_lines(block)}
    keys = {block.key for block in blocks}
    assert set(NOT_RUN) <= commands, f"NOT_RUN lists lines no doc has: {set(NOT_RUN) - commands}"
    assert set(NOT_CODE) | LAYOUT | set(PYTHON) <= keys, "a table names a block no doc has"
    for _why, runner in [*NOT_RUN.values(), *((None, test) for test in PYTHON.values())]:
        if runner == ".ci/run":
            ci = (REPO / ".ci/run").read_text()
            assert re.search(r"^exec bash scripts/test\b", ci, re.M), ".ci/run no longer runs scripts/test"
            assert "scripts/lint" in (REPO / "scripts/test").read_text(), "scripts/test no longer runs scripts/lint"
            continue
        path, name = runner.split("::")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert callable(getattr(module, name, None)), f"{runner} does not exist"
    library_test = (REPO / "tests/integration/test_library.py").read_text()
    assert '"docs" / "library.md"' in library_test and "```python" in library_test


# --- the environment the lines run in ---------------------------------------------------------------------------


def _client(milvus: MilvusInstance, db: str = "default") -> Any:
    from pymilvus import MilvusClient

    return MilvusClient(uri=milvus.uri, db_name=db, timeout=30)


def _make_collection(milvus: MilvusInstance, db: str, name: str, rows: int = 300) -> None:
    """A small flushed collection with an index (quick setup: AUTOINDEX on the vector field, loaded)."""
    client = _client(milvus, db)
    try:
        if not client.has_collection(name):
            client.create_collection(name, dimension=8, auto_id=False)
            client.insert(name, [{"id": i, "vector": [(i % 7) / 7, i / rows, 0.5, 0, 0, 0, 0, 1]} for i in range(rows)])
            client.flush(name)
    finally:
        client.close()


def _drop(milvus: MilvusInstance, db: str, name: str) -> None:
    client = _client(milvus, db)
    try:
        if client.has_collection(name):
            client.drop_collection(name)
    finally:
        client.close()


def collections(milvus: MilvusInstance) -> set[tuple[str, str]]:
    client = _client(milvus)
    try:
        databases = client.list_databases()
    finally:
        client.close()
    found = set()
    for db in databases:
        client = _client(milvus, db)
        try:
            found |= {(db, name) for name in client.list_collections()}
        finally:
            client.close()
    return found


def dataset_state(milvus: MilvusInstance) -> dict[str, Any]:
    state = {}
    for db, name in DATASET:
        client = _client(milvus, db)
        try:
            described = client.describe_collection(name)
            loaded = str(client.get_load_state(name)["state"]).endswith("Loaded")
            rows = client.query(name, output_fields=["count(*)"], consistency_level="Strong") if loaded else None
            state[f"{db}.{name}"] = (
                described["collection_id"],
                sorted(client.list_indexes(name)),
                sorted(described.get("aliases", [])),
                loaded,
                rows,
            )
        finally:
            client.close()
    return state


@dataclass
class Docs:
    milvus: MilvusInstance
    base: Path
    masters: Path
    env: dict[str, str]
    dataset_before: dict[str, Any]
    collections_before: set[tuple[str, str]]
    counter: int = 0
    repo_outputs: dict[str, str] = field(default_factory=dict)

    def workspace(self, line: Line, config_at: str = "configs/backup.yaml") -> Path:
        assert not Path(config_at).is_absolute() and ".." not in Path(config_at).parts, (
            f"--config {config_at}: the test writes only inside its working directory; make it a relative path"
        )
        self.counter += 1
        directory = self.base / f"{Path(line.file).stem}-{line.number}-{self.counter}"
        (directory / config_at).parent.mkdir(parents=True)
        (directory / config_at).write_text(yaml.safe_dump(local_config(self.milvus, directory / "backups")))
        return directory

    def copy_backup(self, name: str, workspace: Path) -> None:
        """The backup and the masters it references or that reference it, so that references resolve and delete
        sees the dependents."""
        assert (self.masters / name).is_dir(), f"no backup {name!r} is made for the examples (MASTERS)"
        related = {name, INCREMENTAL_MASTERS.get(name, "")} | {d for d, b in INCREMENTAL_MASTERS.items() if b == name}
        for backup in sorted(related - {""}):
            if not (workspace / "backups" / backup).exists():
                shutil.copytree(self.masters / backup, workspace / "backups" / backup)


@pytest.fixture(scope="module")
def docs(milvus_local: MilvusInstance, dataset_local: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Docs]:
    started = time.monotonic()
    base = tmp_path_factory.mktemp("docs")
    masters = base / "masters"
    config_path = base / "masters.yaml"
    config_path.write_text(yaml.safe_dump(local_config(milvus_local, masters)))
    config = milvus_backup.load_config(str(config_path), env={}, explicit=True).config
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MILVUS", "MINIO", "SERVER_PORT"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    try:
        for db, name in (*OWN, *DROPPED_AFTER_MASTERS):
            _make_collection(milvus_local, db, name)
        for name, selection in MASTERS.items():
            selected = milvus_backup.parse_selection(database_collections=selection)
            against = INCREMENTAL_MASTERS.get(name, "")
            request = milvus_backup.CreateRequest(
                name=name, selection=selected, incremental=bool(against), base=against
            )
            milvus_backup.create_backup(config, request)
        for db, name in DROPPED_AFTER_MASTERS:
            _drop(milvus_local, db, name)
        print(f"docs: collections and backups made in {time.monotonic() - started:.1f} s")
        yield Docs(milvus_local, base, masters, env, dataset_state(milvus_local), collections(milvus_local))
    finally:
        for db, name in (*OWN, *DROPPED_AFTER_MASTERS):
            _drop(milvus_local, db, name)


# --- running the lines ------------------------------------------------------------------------------------------


@dataclass
class Server:
    doc_port: int
    port: int
    process: Any
    log: Path


@dataclass
class FileRun:
    """The state of one doc file's lines: its exports, its servers and the last create's requestId."""

    docs: Docs
    env: dict[str, str]
    servers: dict[int, Server] = field(default_factory=dict)
    request_id: str = ""

    def stop(self) -> None:
        for server in self.servers.values():
            proc.kill(server.process)


def run(text: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", text],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=LINE_TIMEOUT,
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
    )
    return result.stdout


def argv_of(line: Line) -> list[str]:
    return shlex.split(line.command)


def option(argv: list[str], *names: str) -> str | None:
    for i, item in enumerate(argv):
        if item in names and i + 1 < len(argv):
            return argv[i + 1]
    return None


def subcommand(argv: list[str]) -> str:
    """`create` of `milvus-backup --config x.yaml create -n a`: the first word that is no option or its value."""
    i = 1
    while i < len(argv):
        if argv[i] in ("--config", "--set"):
            i += 2
        elif argv[i].startswith("-"):
            i += 1
        else:
            return argv[i]
    return ""


def runner_for(line: Line) -> Any:
    argv = argv_of(line)
    if not argv:
        return None
    if argv[0] == "export" and len(argv) == 2 and "=" in argv[1]:
        return run_export
    if argv[0] == "curl":
        return run_curl
    if argv[0] == "milvus-backup":
        return run_server if subcommand(argv) == "server" else run_cli
    if line.command in REPO_COMMANDS:
        return run_in_repo
    return None


def run_export(line: Line, state: FileRun) -> None:
    text = re.sub(r"^(export \w+=)\.\.\.(?=\s|$)", r"\g<1>docs-example-value", line.text)
    succeeded(run(text, state.docs.base, state.env))
    name, value = argv_of(Line(line.file, line.number, text))[1].split("=", 1)
    state.env[name] = value  # the file's later lines see it, as in the shell it is typed into


# Commands run in the repository, and what their output shows when they work.
REPO_COMMANDS = {
    "./scripts/lint": "",
    ".venv/bin/python -m bench --help": "--rows",
    ".venv/bin/python -m bench.copy_paths": "| raw |",
    ".venv/bin/python -m bench.prune_year": "| prune (s) |",
}


def run_in_repo(line: Line, state: FileRun) -> None:
    """Once per command: README.md and docs/benchmarks.md show the same ones."""
    done = state.docs.repo_outputs
    if line.command not in done:
        done[line.command] = succeeded(run(line.text, REPO, state.env))
    assert REPO_COMMANDS[line.command] in done[line.command], done[line.command][-2000:]


# - milvus-backup lines


@contextlib.contextmanager
def milvus_cleaned(docs: Docs) -> Iterator[set[tuple[str, str]]]:
    """Yields the collections the block created (filled in on leaving, before they are dropped)."""
    before = collections(docs.milvus)
    created: set[tuple[str, str]] = set()
    try:
        yield created
    finally:
        created |= collections(docs.milvus) - before
        for db, name in created:
            _drop(docs.milvus, db, name)


@contextlib.contextmanager
def existing_targets(docs: Docs, argv: list[str], workspace: Path) -> Iterator[None]:
    """For `restore --skip_create_collection`: the targets exist, empty, made from the backup's schema; one of
    the fixture set is renamed out of the way meanwhile and back after."""
    name = option(argv, "-n", "--name")
    colls = option(argv, "-c", "--collections")
    assert name and colls, "a --skip_create_collection example names its backup (-n) and collections (-c)"
    targets = [tuple(c.split(".", 1)) if "." in c else ("default", c) for c in colls.split(",")]
    aside = [(db, coll) for db, coll in targets if (db, coll) in collections(docs.milvus)]
    for db, coll in aside:
        assert (db, coll) in DATASET, f"{db}.{coll} exists and is not of the fixture set: cannot set it aside"
        client = _client(docs.milvus, db)
        try:
            client.rename_collection(coll, f"{coll}_docs_aside")
        finally:
            client.close()
    try:
        config = milvus_backup.load_config(str(workspace / "configs/backup.yaml"), env={}, explicit=True).config
        request = milvus_backup.RestoreRequest(
            name=name, selection=milvus_backup.parse_selection(colls=colls), meta_only=True, skip_aliases=True
        )
        milvus_backup.restore_backup(config, request)
        yield
    finally:
        for db, coll in targets:
            _drop(docs.milvus, db, coll)
        for db, coll in aside:
            client = _client(docs.milvus, db)
            try:
                client.rename_collection(f"{coll}_docs_aside", coll)
            finally:
                client.close()


def run_cli(line: Line, state: FileRun) -> None:
    docs = state.docs
    argv = argv_of(line)
    command = subcommand(argv)
    name = option(argv, "-n", "--name")
    config_at = option(argv, "--config") or "configs/backup.yaml"
    workspace = docs.workspace(line, config_at)
    if command in ("get", "verify", "delete", "restore", "inspect", "export", "consolidate"):
        assert name, "the example names its backup"
        docs.copy_backup(name, workspace)
    base = option(argv, "--base")
    if command == "create" and base:
        docs.copy_backup(base, workspace)
    if command in ("list", "prune"):
        for master in MASTERS:
            docs.copy_backup(master, workspace)
    text = DOC_MILVUS_PORTS.sub(str(docs.milvus.port), line.text)
    with contextlib.ExitStack() as stack:
        stack.enter_context(milvus_cleaned(docs))
        if command == "restore" and "--skip_create_collection" in argv:
            stack.enter_context(existing_targets(docs, argv, workspace))
        out = succeeded(run(text, workspace, state.env))
        if command == "restore":
            check_restore(docs, argv, out, collections(docs.milvus))
    expect_output(docs, command, argv, name, out, workspace)


def expect_output(docs: Docs, command: str, argv: list[str], name: str | None, out: str, workspace: Path) -> None:
    """What the doc promises, where it is cheap to see."""
    backups = workspace / "backups"
    if "--help" in argv:
        assert "Usage" in out and "create" in out, out
    elif command == "config":
        assert "milvus.grpc.port" in out and str(docs.milvus.port) in out, out
    elif command == "check":
        assert "Success!" in out, out
    elif command == "create":
        made = name or "backup_"
        assert f"create backup success: {made}" in out, out
        (folder,) = [p for p in backups.iterdir() if p.name.startswith(made)]
        assert (folder / "meta" / "backup_meta.json").is_file()
        if option(argv, "--base"):
            assert f"referenced in backup {option(argv, '--base')}" in out, out
    elif command == "list" and "--json" in argv:
        assert {b["name"] for b in json.loads(out)} == set(MASTERS), out
    elif command == "list":
        assert all(master in out for master in MASTERS), out
    elif command == "get":
        meta = json.loads(out)
        assert meta["name"] == name and meta["collection_backups"], out[:2000]
    elif command == "verify":
        assert f"verify success: {name} is intact" in out, out
    elif command == "delete":
        assert f"delete backup success: {name}" in out, out
        assert not (backups / str(name)).exists()
        if "--with-dependents" in argv:
            for dependent in (d for d, b in INCREMENTAL_MASTERS.items() if b == name):
                assert f"delete backup success: {dependent}" in out and not (backups / dependent).exists(), out
    elif command == "consolidate":
        assert f"consolidate success: {name}" in out, out
        assert not (backups / str(name) / "meta" / "references.json").exists()
    elif command == "restore":
        assert f"restore backup success: {name}" in out, out
    elif command == "inspect" and "--json" in argv:
        report = json.loads(out)
        assert report["name"] == name and all(c["rows"]["live"] > 0 for c in report["collections"]), out[:2000]
        wanted = option(argv, "--rows")
        assert all(len(c["sample_rows"]) == int(wanted or 0) for c in report["collections"]), out[:2000]
    elif command == "inspect":
        assert f"backup {name}:" in out and "live rows" in out, out
    elif command == "export":
        assert "export success:" in out, out
        out_dir = workspace / str(option(argv, "--out"))
        suffix = ".jsonl" if option(argv, "--format") == "jsonl" else ".parquet"
        assert list(out_dir.rglob(f"part-00000-000{suffix}")), f"no {suffix} file under {out_dir}"
    elif command == "prune":
        check_prune(argv, out, backups)
    else:
        raise AssertionError(f"nothing to expect from `milvus-backup {command}`: say what it shows")


PRUNED = re.compile(r"^(keep|removed|would remove) +(\S+)", re.M)


def check_prune(argv: list[str], out: str, backups: Path) -> None:
    """Every backup of the workspace is said to be kept or removed, and is there or gone as said."""
    if "--json" in argv:
        result = json.loads(out)
        kept = {b["name"] for b in result["kept"]}
        removed = {b["name"] for b in result["removed"]}
        assert result["dry_run"] == ("--dry-run" in argv), out
    else:
        said = PRUNED.findall(out)
        kept = {name for verb, name in said if verb == "keep"}
        removed = {name for verb, name in said if verb != "keep"}
        assert f"prune {'dry run' if '--dry-run' in argv else 'success'}:" in out, out
    prefix = option(argv, "--prefix") or ""
    assert kept | removed == {m for m in MASTERS if m.startswith(prefix)} and not kept & removed, out
    present = {p.name for p in backups.iterdir()}
    assert kept <= present, out
    assert removed <= present if "--dry-run" in argv else not removed & present, out


RESTORED = re.compile(r"^(\S+) -> (\S+): (\d+) row\(s\)", re.M)


def check_restore(docs: Docs, argv: list[str], out: str, present: set[tuple[str, str]]) -> None:
    """Each collection the restore printed is in Milvus with its rows, index and load state as the flags say."""
    restored = RESTORED.findall(out)
    assert restored, out
    for _source, target, rows in restored:
        db, coll = target.split(".", 1)
        assert (db, coll) in present, f"{target} is not in Milvus after: {out}"
        client = _client(docs.milvus, db)
        try:
            if "--meta_only" in argv:
                assert int(rows) == 0, out
            else:
                assert int(rows) > 0, out
            if "--restore_index" in argv:
                indexes = client.list_indexes(coll)
                assert indexes, f"{target} has no index"
                if "--use_auto_index" in argv:
                    index = client.describe_index(coll, indexes[0])
                    assert index["index_type"] == "AUTOINDEX", index
            if "--load" in argv:
                assert str(client.get_load_state(coll)["state"]).endswith("Loaded"), client.get_load_state(coll)
        finally:
            client.close()


# - servers and curl


def run_server(line: Line, state: FileRun) -> None:
    docs = state.docs
    argv = argv_of(line)
    given = option(argv, "-p", "--port")
    doc_port = int(given) if given else 8080
    port = doc_port if not port_open(LOCALHOST, doc_port) and doc_port not in state.servers else free_port()
    env = dict(state.env)
    text = line.text
    if given:
        text = re.sub(rf"(-p|--port)(\s+){doc_port}\b", rf"\g<1>\g<2>{port}", text, count=1)
    elif port != doc_port:
        env["SERVER_PORT"] = str(port)  # the documented way to choose the port without -p
    config_at = option(argv, "--config")
    workspace = docs.workspace(line, config_at or "configs/backup.yaml")
    log = workspace / "server.log"
    process = proc.spawn(["bash", "-c", text], log_path=log, env=env, cwd=workspace)
    state.servers[doc_port] = Server(doc_port, port, process, log)
    url = f"http://{LOCALHOST}:{port}"
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/api/v1/hello", timeout=2).status_code == 200:
                break
        assert process.poll() is None and time.monotonic() < deadline, f"server did not start:\n{log_tail(log)}"
        time.sleep(0.2)
    # The server reads the config the line names (the workspace has no other): its backups are listed.
    answer = httpx.get(f"{url}/api/v1/list", timeout=30).json()
    assert answer["code"] == 0, answer


def curl(text: str, state: FileRun) -> dict[str, Any]:
    result = run(text, state.docs.base, state.env)
    out = succeeded(result)
    try:
        return json.loads(out)
    except ValueError:
        raise AssertionError(f"not JSON: {out[:2000]}") from None


def run_curl(line: Line, state: FileRun) -> None:
    def port_of(match: re.Match[str]) -> str:
        doc_port = int(match[1])
        assert doc_port in state.servers, f"no `milvus-backup server` line of {line.file} listens on {doc_port}"
        return f"localhost:{state.servers[doc_port].port}"

    text = re.sub(r"localhost:(\d+)", port_of, line.text)
    if "<requestId>" in text:
        assert state.request_id, "<requestId> before any create answered one"
        text = text.replace("<requestId>", state.request_id)
    with milvus_cleaned(state.docs) as created:
        answer = curl(text, state)
        assert answer.get("code") == 0, answer
        if "/api/v1/create" in text:
            state.request_id = answer["requestId"]
        if "/api/v1/get_backup" in text:  # poll until the backup is done
            deadline = time.monotonic() + 180
            while answer["data"]["state_code"] in (0, 1):
                assert time.monotonic() < deadline, answer
                time.sleep(0.5)
                answer = curl(text, state)
                assert answer.get("code") == 0, answer
            assert answer["data"]["state_code"] == 2, answer
        if "/api/v1/restore" in text:
            assert answer["data"]["state_code"] == 2, answer
            after_restore = collections(state.docs.milvus)
    if "/api/v1/restore" in text:  # what it created is there when it answers (and dropped now)
        assert created and created <= after_restore, f"the restore created nothing: {answer}"


@pytest.mark.parametrize("file", [f for f in DOC_FILES if doc_lines(f)])
def test_shell_examples_run_as_written(docs: Docs, file: str):
    state = FileRun(docs, dict(docs.env))
    failures = []
    ran = 0
    try:
        for line in doc_lines(file):
            if line.command in NOT_RUN:
                continue
            runner = runner_for(line)
            assert runner is not None, f"{line}: no runner (test_every_block_is_run_or_listed says so too)"
            started = time.monotonic()
            try:
                runner(line, state)
                ran += 1
                print(f"{time.monotonic() - started:5.1f} s  {line}")
            except (AssertionError, subprocess.TimeoutExpired) as exc:
                failures.append(f"{line}\n{exc}")
    finally:
        state.stop()
    assert not failures, f"{len(failures)} of {ran + len(failures)} lines failed:\n\n" + "\n\n".join(failures)


def test_the_readme_curl_lines_send_no_content_type():
    """As scripts written for the Go server send them: plain `curl -d`, so the body is labelled form data. That
    they succeed is shown by test_shell_examples_run_as_written[README.md]."""
    posts = [line for line in doc_lines("README.md") if argv_of(line)[0] == "curl" and " -d " in line.command]
    assert posts
    assert not [line for line in posts if re.search(r"content-type|\s-H\s|--header|--json", line.command, re.I)]


# --- blocks that are not shell ----------------------------------------------------------------------------------


def test_json_and_yaml_examples(docs: Docs, tmp_path: Path):
    reals = {
        MANIFEST_FORMAT: json.loads((docs.masters / "nightly" / "meta" / "manifest.json").read_text()),
        MANIFEST_FORMAT_REFERENCES: json.loads((docs.masters / "tuesday" / "meta" / "manifest.json").read_text()),
    }
    real_references = (docs.masters / "tuesday" / "meta" / "references.json").read_bytes()
    for block in all_blocks():
        text = "\n".join(block.lines)
        if block.lang == "json":
            data = json.loads(text)
            if isinstance(data, dict) and data.get("format") == REFERENCES_FORMAT:
                References.from_json(text.encode())  # what list and delete read
                assert data.keys() == json.loads(real_references).keys()
            if isinstance(data, dict) and data.get("format") in reals:
                real = reals[data["format"]]
                Manifest.from_json(text.encode())  # what verify and restore read
                assert data.keys() == real.keys()
                assert {k for o in data["objects"] for k in o} == {k for o in real["objects"] for k in o}
                assert {k for c in data["collections"] for k in c} == {k for c in real["collections"] for k in c}
        elif block.lang in ("yaml", "yml"):
            path = tmp_path / f"{Path(block.file).stem}-{block.line}.yaml"
            path.write_text(text)
            config = milvus_backup.load_config(str(path), env={}, explicit=True).config  # every key and value
            wiring.schedules(config)  # and the schedules as the server checks them at start-up


def test_the_layout_example_matches_a_real_backup(docs: Docs):
    for block in all_blocks():
        if block.key not in LAYOUT:
            continue
        patterns = []
        for text in block.lines:
            match = re.match(r"(?:<[^>]*>|\S)+", text.strip())  # up to the first blank outside <...>
            assert match, text
            path = match[0]
            assert path.startswith("<root>/NAME/"), text
            parts = path.removeprefix("<root>/NAME/").split("/")
            patterns.append(re.compile("/".join("[^/]+" if p.startswith("<") else re.escape(p) for p in parts)))
        seen: set[int] = set()
        for backup in MASTERS:
            for path in (docs.masters / backup).rglob("*"):
                if path.is_file():
                    key = path.relative_to(docs.masters / backup).as_posix()
                    hits = [i for i, p in enumerate(patterns) if p.fullmatch(key)]
                    assert hits, f"{backup}/{key} fits no line of {block.file}:{block.line}"
                    seen.update(hits)
        meta_lines = {i for i, text in enumerate(block.lines) if "/meta/" in text}
        assert meta_lines <= seen, "a meta file of the layout is in no real backup"


def test_the_examples_left_the_fixture_set_as_it_was(docs: Docs):
    assert dataset_state(docs.milvus) == docs.dataset_before
    assert collections(docs.milvus) == docs.collections_before
