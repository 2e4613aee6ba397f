"""Numbered SQL migrations, applied in order, each in its own transaction, recorded in a table."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

import duckdb

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class SchemaError(Exception):
    """The warehouse schema cannot be used by this version of the code."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


def load_migrations() -> tuple[Migration, ...]:
    found = []
    for item in resources.files("spacewatch.warehouse").joinpath("schema").iterdir():
        match = _NAME.match(item.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), item.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise SchemaError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return tuple(found)


def _ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version    INTEGER PRIMARY KEY,
               name       VARCHAR NOT NULL,
               checksum   VARCHAR NOT NULL,
               applied_at TIMESTAMPTZ NOT NULL)"""
    )


def applied_versions(con: duckdb.DuckDBPyConnection) -> dict[int, str]:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    ).fetchone()
    if not exists or not exists[0]:
        return {}
    return dict(con.execute("SELECT version, checksum FROM schema_migrations").fetchall())


def check_schema(con: duckdb.DuckDBPyConnection, path: str) -> list[Migration]:
    """Pending migrations; refuses a schema that is newer than the code or was tampered with."""
    migrations = load_migrations()
    applied = applied_versions(con)
    newest = max(applied, default=0)
    if newest > len(migrations):
        raise SchemaError(
            f"{path}: warehouse schema version {newest} is newer than this Spacewatch "
            f"understands ({len(migrations)}); upgrade Spacewatch before using this warehouse"
        )
    for migration in migrations:
        recorded = applied.get(migration.version)
        if recorded is not None and recorded != migration.checksum:
            raise SchemaError(
                f"{path}: migration {migration.version:04d}_{migration.name} differs from the "
                "one applied to this warehouse; applied migrations must never be edited"
            )
    return [m for m in migrations if m.version not in applied]


def migrate(con: duckdb.DuckDBPyConnection, path: str = "warehouse") -> list[int]:
    """Apply pending migrations; returns the versions applied now (empty when up to date)."""
    pending = check_schema(con, path)
    if not pending:
        return []
    _ensure_table(con)
    done = []
    for migration in pending:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?, ?)",
                [migration.version, migration.name, migration.checksum, datetime.now(UTC)],
            )
            con.execute("COMMIT")
        except Exception as exc:
            con.execute("ROLLBACK")
            raise SchemaError(
                f"{path}: migration {migration.version:04d}_{migration.name} failed: {exc}"
            ) from exc
        done.append(migration.version)
    # DuckDB cannot replay an ALTER of a table whose default calls nextval() from the
    # write-ahead log in a read-only connection ("no default database set"): after a crash an
    # analyst could not open the warehouse. A checkpoint folds the new schema into the file.
    con.execute("CHECKPOINT")
    return done


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    return max(applied_versions(con), default=0)
