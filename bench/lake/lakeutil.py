"""Shared by the DuckLake spike scripts: load extensions offline, attach a lake, run a
throw-away PostgreSQL cluster on loopback. Spike code for issue 15's design, not product code."""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import duckdb

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def extension_path(package: str, name: str) -> str:
    """The extension file a duckdb-extension-* package ships for this DuckDB version."""
    module = importlib.import_module(package)
    path = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    return str(path / f"{name}.duckdb_extension")


def load(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    packages = {
        "ducklake": "duckdb_extension_ducklake",
        "fts": "duckdb_extension_fts",
        "sqlite_scanner": "duckdb_extension_sqlite_scanner",
        "postgres_scanner": "duckdb_extension_postgres_scanner",
    }
    for name in names:
        con.execute(f"LOAD '{extension_path(packages[name], name)}'")


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that never downloads an extension."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    load(con, "ducklake", "sqlite_scanner", "postgres_scanner", "fts")
    return con


def attach(
    con: duckdb.DuckDBPyConnection,
    catalog: str,
    data_path: str | None,
    alias: str = "lake",
    options: str = "",
) -> None:
    """ATTACH 'ducklake:<catalog>' AS alias (DATA_PATH ...) and USE it."""
    opts = []
    if data_path:
        opts.append(f"DATA_PATH '{data_path}'")
    if options:
        opts.append(options)
    tail = f" ({', '.join(opts)})" if opts else ""
    con.execute(f"ATTACH 'ducklake:{catalog}' AS {alias}{tail}")
    con.execute(f"USE {alias}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def postgres_cluster(databases: tuple[str, ...] = ("lake",)):
    """A throw-away PostgreSQL 15 cluster as the postgres user on a loopback port; yields the
    libpq connection string of the first of `databases` (all are created; the others differ
    only in dbname=). initdb refuses root, hence runuser."""
    root = Path(tempfile.mkdtemp(prefix="lake-pg-"))
    os.chmod(root, 0o777)
    data = root / "data"
    port = free_port()
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_pg, str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_pg,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1",
            "-l",
            str(root / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        for name in databases:
            subprocess.run(
                [*as_pg, str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), name],
                check=True,
                capture_output=True,
            )
        yield f"dbname={databases[0]} host=127.0.0.1 port={port} user=postgres"
    finally:
        subprocess.run(
            [*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result
