"""The `milvus-backup` command line: global options, command registration, and the only `sys.exit`."""

from __future__ import annotations

import importlib.metadata
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated

import typer
from typer.exceptions import TyperException

from milvus_backup.cli import check as check_cmd
from milvus_backup.cli import config as config_cmd
from milvus_backup.cli import consolidate as consolidate_cmd
from milvus_backup.cli import create as create_cmd
from milvus_backup.cli import delete as delete_cmd
from milvus_backup.cli import export as export_cmd
from milvus_backup.cli import get as get_cmd
from milvus_backup.cli import inspect as inspect_cmd
from milvus_backup.cli import list as list_cmd
from milvus_backup.cli import prune as prune_cmd
from milvus_backup.cli import restore as restore_cmd
from milvus_backup.cli import server as server_cmd
from milvus_backup.cli import verify as verify_cmd
from milvus_backup.cli.commands import Command, Group
from milvus_backup.config import DEFAULT_CONFIG_NAME, LoadedConfig, load_config
from milvus_backup.errors import BackupToolError

logger = logging.getLogger("milvus_backup")

GLOBAL_VALUE_OPTIONS = ("--config", "--set")

app = typer.Typer(
    name="milvus-backup",
    cls=Group,
    help="Back up and restore Milvus collections (compatible with zilliztech/milvus-backup).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class AppState:
    config_name: str = DEFAULT_CONFIG_NAME
    config_given: bool = False
    overrides: list[str] = field(default_factory=list)
    debug: bool = False
    _loaded: LoadedConfig | None = None

    def load(self) -> LoadedConfig:
        if self._loaded is None:
            with _HeldLogs() as held:  # what loading logs (unknown keys...) waits for log.console
                self._loaded = load_config(self.config_name, self.overrides, explicit=self.config_given)
                log = self._loaded.config.log
                if not self.debug:
                    logging.getLogger("milvus_backup").setLevel(_log_level(log.level))
                held.show = log.console or self.debug
            # log.console: false keeps every log record off stderr (results go to stdout); --debug still logs.
            logging.disable(logging.NOTSET if held.show else logging.CRITICAL)
        return self._loaded


def _log_level(name: str) -> int:
    return {"debug": logging.DEBUG, "warn": logging.WARNING, "panic": logging.CRITICAL, "fatal": logging.CRITICAL}.get(
        name, getattr(logging, name.upper(), logging.INFO)
    )


class _HeldLogs(logging.Handler):
    """Holds the package's log records while the config loads; on leaving, passes them on when `show` (still
    True if loading failed) and drops them otherwise."""

    def __init__(self) -> None:
        super().__init__()
        self.show = True
        self.records: list[logging.LogRecord] = []
        self._logger = logging.getLogger("milvus_backup")

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> _HeldLogs:
        self._propagate, self._logger.propagate = self._logger.propagate, False
        self._logger.addHandler(self)
        return self

    def __exit__(self, *_: object) -> None:
        self._logger.removeHandler(self)
        self._logger.propagate = self._propagate
        for record in self.records if self.show else ():
            if record.levelno >= self._logger.getEffectiveLevel():
                logging.getLogger(record.name).handle(record)


def package_version() -> str:
    try:
        return importlib.metadata.version("milvus-backup")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"milvus-backup {package_version()}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            help="Config file (upstream backup.yaml, v1 or v2). Also looked up in $MILVUSCONF and ./configs.",
            show_default=DEFAULT_CONFIG_NAME,
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Override one config value: KEY=VALUE, a config key or an env-var name. Repeatable."
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Debug logs and tracebacks on stderr.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=_print_version),
    ] = False,
) -> None:
    ctx.obj = AppState(config or DEFAULT_CONFIG_NAME, config is not None, list(set_ or []), debug)
    if debug:
        logging.getLogger("milvus_backup").setLevel(logging.DEBUG)


app.command("check", epilog=check_cmd.EPILOG, cls=Command)(check_cmd.check)
app.command("create", epilog=create_cmd.EPILOG, cls=Command)(create_cmd.create)
app.command("list", epilog=list_cmd.EPILOG, cls=Command)(list_cmd.list_)
app.command("get", epilog=get_cmd.EPILOG, cls=Command)(get_cmd.get)
app.command("delete", epilog=delete_cmd.EPILOG, cls=Command)(delete_cmd.delete)
app.command("prune", epilog=prune_cmd.EPILOG, cls=Command)(prune_cmd.prune)
app.command("restore", epilog=restore_cmd.EPILOG, cls=Command)(restore_cmd.restore)
app.command("verify", epilog=verify_cmd.EPILOG, cls=Command)(verify_cmd.verify)
app.command("inspect", epilog=inspect_cmd.EPILOG, cls=Command)(inspect_cmd.inspect)
app.command("export", epilog=export_cmd.EPILOG, cls=Command)(export_cmd.export)
app.command("consolidate", epilog=consolidate_cmd.EPILOG, cls=Command)(consolidate_cmd.consolidate)
app.command("server", epilog=server_cmd.EPILOG, cls=Command)(server_cmd.server)
app.add_typer(config_cmd.app, name="config")


def hoist_global_options(argv: Sequence[str]) -> list[str]:
    """Move `--config`/`--set` (and `--debug`) in front of the subcommand, so they work before or after it,
    as the Go tool's persistent flags do."""
    front: list[str] = []
    rest: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        item = items[i]
        if item == "--":
            rest.extend(items[i:])
            break
        if item in GLOBAL_VALUE_OPTIONS and i + 1 < len(items):
            front += [item, items[i + 1]]
            i += 2
            continue
        if item.split("=", 1)[0] in GLOBAL_VALUE_OPTIONS or item == "--debug":
            front.append(item)
        else:
            rest.append(item)
        i += 1
    return front + rest


def _leave_out_pyarrow() -> None:
    """pandas, which pymilvus imports, imports pyarrow whenever it is installed: memory and start-up time for
    every command, for a library no command uses. A None entry makes that import fail as if pyarrow were not
    installed, and pandas does without it. Only the command line does this: a program importing milvus_backup
    keeps its own modules."""
    # None in sys.modules is the documented import blocker; typeshed types the values as modules only.
    sys.modules.setdefault("pyarrow", None)  # type: ignore[arg-type]


#: The commands that read binlogs (Parquet payloads): inspect, export, create (its row-count proof), restore
#: (through inserts), and the server, which offers them all.
READS_BINLOGS = frozenset({"inspect", "export", "create", "restore", "server"})


def _command_of(args: Sequence[str]) -> str | None:
    """The subcommand of hoisted arguments (global options and their values first)."""
    i = 0
    while i < len(args):
        item = args[i]
        if item in GLOBAL_VALUE_OPTIONS:
            i += 2
            continue
        if not item.startswith("-"):
            return item
        i += 1
    return None


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("milvus_backup").setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = hoist_global_options(sys.argv[1:] if argv is None else argv)
    if _command_of(args) not in READS_BINLOGS:
        _leave_out_pyarrow()
    debug = "--debug" in args
    try:
        result = app(args=args, prog_name="milvus-backup", standalone_mode=False)
    except BackupToolError as exc:
        typer.echo(f"Error: {exc.message}", err=True)
        if exc.hint:
            typer.echo(f"Hint: {exc.hint}", err=True)
        if debug:
            logger.debug("traceback", exc_info=exc)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("Interrupted.", err=True)
        sys.exit(130)
    except TyperException as exc:  # a usage error found by the argument parser
        exc.show()  # type: ignore[attr-defined]
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:  # the last line of defence: one line, the details behind --debug
        typer.echo(f"Error: unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
        logger.debug("traceback", exc_info=exc)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)
