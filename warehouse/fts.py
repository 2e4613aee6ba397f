"""DuckDB's full-text search extension, offline: loaded from the duckdb-extension-fts package."""

from __future__ import annotations

from pathlib import Path

import duckdb

from spacewatch.warehouse.sqltext import sql_string


class FtsUnavailable(Exception):
    pass


def fts_extension_path() -> Path | None:
    """The fts extension file that duckdb-extension-fts ships for this DuckDB, if installed."""
    try:
        import duckdb_extension_fts
    except ImportError:
        return None
    path = (
        Path(duckdb_extension_fts.__file__).parent
        / "extensions"
        / f"v{duckdb.__version__}"
        / "fts.duckdb_extension"
    )
    return path if path.exists() else None


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    """LOAD fts; DuckDB would download it at run time, so prefer the copy the package ships."""
    path = fts_extension_path()
    if path is not None:
        con.execute(f"LOAD {sql_string(path)}")
        return
    try:
        con.execute("LOAD fts")  # already installed in ~/.duckdb (a machine with internet)
    except duckdb.Error as exc:
        raise FtsUnavailable(
            f"DuckDB's fts extension for duckdb {duckdb.__version__} is not available offline: "
            f"install duckdb-extension-fts=={duckdb.__version__} ({str(exc).splitlines()[0]})"
        ) from None
