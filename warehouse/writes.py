"""Short writes: the warehouse opened for writing only for the moment of one read or one record.

Delivery and health notices take the writer lock for each of them and let go at once, so a
pipeline run never waits for a send. When a run holds the writer, a record waits for it
(`wait_s`). `HeldWrites` wraps a connection the caller already holds (tests, maintenance).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from spacewatch.warehouse.connect import connect, writer_lock


class ShortWrites:
    """The warehouse opened for writing only for the moment of one read or one record."""

    def __init__(self, path: Path, wait_s: float) -> None:
        self.path, self.wait_s = path, wait_s

    @contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with writer_lock(self.path, self.wait_s):
            con = connect(self.path)
            try:
                con.execute("BEGIN TRANSACTION")
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            finally:
                con.close()


class HeldWrites:
    """A connection the caller already holds under the writer lock (tests, maintenance)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    @contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        yield self.con


Writes = ShortWrites | HeldWrites


def as_writes(db: Writes | duckdb.DuckDBPyConnection) -> Writes:
    return db if isinstance(db, ShortWrites | HeldWrites) else HeldWrites(db)
