"""What every command shares: the Typer app, its options, one-line errors and exit codes,
and opening the configuration and the warehouse with errors a user can act on.

Imports here stay light (no Prefect, Apprise or matplotlib): commands that run no flow start
fast, and each command imports the stage it calls inside its body.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.console import Console

from spacewatch.config import Config, ConfigError, load_config
from spacewatch.warehouse.connect import WarehouseBusy, WarehouseError, connect, writer_lock
from spacewatch.warehouse.migrate import SchemaError, check_schema

app = typer.Typer(
    name="spacewatch",
    help="Monitor space-policy news: poll feeds, extract articles, store them in DuckDB.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


console = Console(width=None if sys.stdout.isatty() else 160)


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Configuration file (default: ./spacewatch.toml, or $SPACEWATCH_CONFIG).",
        show_default=False,
    ),
]


VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs.")]


EXIT_FAILED, EXIT_CONFIG, EXIT_BUSY = 1, 2, 3


class Fail(Exception):
    """An error the user can act on; printed as one line."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def prefect_environment(verbose: bool = False, console: str = "CRITICAL") -> None:
    """Defaults that make Prefect's embedded server dependable on a fresh, offline machine.

    The terminal and Prefect's API get separate levels: the flow and task run loggers always
    send INFO to the API (the UI shows each run's summary and every failed feed or page),
    while Prefect's console handler shows only `console` and above (INFO with --verbose).
    Variables already set in the environment win.
    """
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else console)
    os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL", "INFO")
    os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL", "INFO")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "INFO" if verbose else console)


def load_cfg(config: Path | None) -> Config:
    try:
        return load_config(config)
    except ConfigError as exc:
        raise Fail(str(exc), EXIT_CONFIG) from None


def age(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    seconds = (now - when).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            text = f"{seconds / size:.0f}{unit}"
            break
    else:
        text = f"{seconds:.0f}s"
    return f"in {text}" if future else f"{text} ago"


def open_reader(cfg: Config) -> duckdb.DuckDBPyConnection:
    try:
        con = connect(cfg.warehouse_path, read_only=True)
        check_schema(con, str(cfg.warehouse_path))
        return con
    except WarehouseBusy:
        raise Fail(
            f"{cfg.warehouse_path}: a run is writing the warehouse right now; try again in a "
            "moment",
            EXIT_BUSY,
        ) from None
    except (WarehouseError, SchemaError) as exc:
        raise Fail(str(exc)) from None


@contextmanager
def open_writer(cfg: Config, wait: float = 0.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse opened for writing under the run lock, with one-line errors."""
    from spacewatch.warehouse.connect import open_for_writing

    if not cfg.warehouse_path.exists():
        raise Fail(f"{cfg.warehouse_path}: warehouse not found (run `spacewatch run` first)")
    try:
        with writer_lock(cfg.warehouse_path, wait):
            con = open_for_writing(cfg.warehouse_path)
            try:
                yield con
            finally:
                con.close()
    except WarehouseBusy as exc:
        raise Fail(str(exc), EXIT_BUSY) from None
    except (WarehouseError, SchemaError) as exc:
        raise Fail(str(exc)) from None


def parse_since(value: str, flag: str = "--since") -> datetime:
    from datetime import timedelta

    match = re.fullmatch(r"(\d+)([dw])", value.strip())
    if match:
        days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
        return datetime.now(UTC) - timedelta(days=days)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise Fail(f"{flag} {value!r}: expected 90d, 12w or a date like 2024-01-31") from None
    # An offset is honoured (2024-01-31T08:00+02:00 is 06:00 UTC); without one, UTC.
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def open_analyst_view(cfg: Config, writable: tuple[Path, ...] = ()) -> duckdb.DuckDBPyConnection:
    """The snapshot, read-only and locked: no file, network, ATTACH, INSTALL, LOAD or SET.

    `writable` lists what the tool itself writes through DuckDB (never what user SQL names).
    """
    from spacewatch.warehouse.fts import FtsUnavailable
    from spacewatch.warehouse.snapshot import SnapshotMissing, open_snapshot

    try:
        return open_snapshot(cfg.warehouse_path, writable)
    except (SnapshotMissing, FtsUnavailable) as exc:
        raise Fail(str(exc)) from None


def duckdb_message(exc: duckdb.Error) -> str:
    """DuckDB's message with its hints ("Did you mean", candidate bindings), without the
    echo of the query and its caret, as a few indented lines."""
    lines: list[str] = []
    for line in str(exc).splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            lines.append(line.strip())
    return "\n  ".join(lines) or type(exc).__name__


READ_ONLY = "spacewatch query is read-only"


def refused_or_failed(exc: duckdb.Error) -> Fail:
    """A locked connection's refusal says read-only; anything else is the query's own error."""
    if isinstance(exc, duckdb.PermissionException) or "configuration has been locked" in str(exc):
        return Fail(
            f"{READ_ONLY}: {duckdb_message(exc)} (SQL here may not read or write files, "
            "attach databases, install or load extensions, change settings or reach the "
            "network)"
        )
    return Fail(f"query failed: {duckdb_message(exc)}")
