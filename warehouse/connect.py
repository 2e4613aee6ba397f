"""Opening the warehouse: one writer at a time, schema checked and migrated on open."""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import duckdb

from .migrate import migrate


class WarehouseBusy(Exception):
    """Another process is writing the warehouse."""


class WarehouseError(Exception):
    """The warehouse file cannot be opened or used."""


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


@contextmanager
def writer_lock(path: Path, wait_s: float = 0.0) -> Iterator[None]:
    """Exclusive advisory lock beside the warehouse, held for a whole run.

    DuckDB's own file lock only covers an open connection; this one covers the whole run, so
    a second run never interleaves with the first, and its message can say who holds it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_file = lock_path(path)
    handle = lock_file.open("a+")
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown process"
                    raise WarehouseBusy(
                        f"{path}: another Spacewatch run is writing this warehouse ({holder}); "
                        "it was left untouched - try again when that run ends"
                    ) from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps(
                {"pid": os.getpid(), "since": datetime.now(UTC).isoformat(timespec="seconds")}
            )
        )
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file with a clear one-line error instead of DuckDB's."""
    if read_only and not path.exists():
        raise WarehouseError(f"{path}: warehouse not found (run `spacewatch run` first)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        message = str(exc)
        if "lock" in message.lower():
            raise WarehouseBusy(
                f"{path}: the warehouse is open in another process (DuckDB allows one writer); "
                "try again when it is closed"
            ) from None
        raise WarehouseError(f"{path}: cannot open warehouse: {message.splitlines()[0]}") from None
    except duckdb.Error as exc:
        raise WarehouseError(f"{path}: cannot open warehouse: {str(exc).splitlines()[0]}") from None
    con.execute("SET TimeZone = 'UTC'")
    return con


def open_for_writing(path: Path) -> duckdb.DuckDBPyConnection:
    """Open, migrate and (re)create the analysts' views."""
    con = connect(path)
    try:
        migrate(con, str(path))
        con.execute(
            resources.files("spacewatch.warehouse").joinpath("views.sql").read_text("utf-8")
        )
    except Exception:
        con.close()
        raise
    return con
