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

from spacewatch.warehouse.migrate import migrate


class WarehouseBusy(Exception):
    """Another process is writing the warehouse."""


class WarehouseError(Exception):
    """The warehouse file cannot be opened or used."""


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


# Delivery records each outcome under the writer lock for a few milliseconds at a time
# (alerts/delivery.py), so whoever needs the writer waits at least this long before calling the
# warehouse busy.
SHORT_HOLD_GRACE_S = 5.0


@contextmanager
def writer_lock(path: Path, wait_s: float = 0.0) -> Iterator[None]:
    """Exclusive advisory lock beside the warehouse, held for a whole run.

    DuckDB's own file lock only covers an open connection; this one covers the whole run, so
    a second run never interleaves with the first, and its message can say who holds it.
    """
    busy = (
        f"{path}: another Spacewatch run is writing this warehouse " + "({holder}); "
        "it was left untouched - try again when that run ends"
    )
    with _exclusive(lock_path(path), max(wait_s, SHORT_HOLD_GRACE_S), busy):
        yield


@contextmanager
def delivery_lock(path: Path, wait_s: float) -> Iterator[None]:
    """One sender at a time per warehouse (a triggered delivery, `spacewatch run`'s own, the
    digest), so two of them never send the same message. Independent of the writer lock."""
    busy = f"{path}: another Spacewatch delivery is sending " + "({holder})"
    with _exclusive(path.with_name(path.name + ".delivery.lock"), wait_s, busy):
        yield


@contextmanager
def _exclusive(lock_file: Path, wait_s: float, busy: str) -> Iterator[None]:
    lock_file.parent.mkdir(parents=True, exist_ok=True)
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
                    raise WarehouseBusy(busy.replace("{holder}", holder)) from None
                time.sleep(0.05)
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


def writer_holder(path: Path) -> str | None:
    """Who holds the writer lock (the JSON `writer_lock` wrote), or None when nobody does.

    Only looks: a shared lock taken and dropped at once, so it never makes a run wait.
    """
    lock_file = lock_path(path)
    if not lock_file.exists():
        return None
    with lock_file.open("r") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "unknown process"
    return None


# A writer that finds DuckDB's file lock held waits this long: readers of the live file
# (`status`, `feeds`, `alerts`) hold it for a fraction of a second, and a scheduled run should
# not fail because one of them was reading at that moment.
READER_GRACE_S = 5.0


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file with a clear one-line error instead of DuckDB's."""
    if read_only and not path.exists():
        raise WarehouseError(f"{path}: warehouse not found (run `spacewatch run` first)")
    deadline = time.monotonic() + (0.0 if read_only else READER_GRACE_S)
    while True:
        try:
            return _connect_once(path, read_only)
        except WarehouseBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def _connect_once(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
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
