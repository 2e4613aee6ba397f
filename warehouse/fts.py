"""DuckDB's full-text search extension, offline: loaded from the duckdb-extension-fts package."""

from __future__ import annotations

from pathlib import Path

import duckdb


class FtsUnavailable(Exception):
    pass


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    """LOAD fts; DuckDB would download it at run time, so prefer the copy the package ships."""
    try:
        import duckdb_extension_fts

        version = duckdb.__version__
        path = (
            Path(duckdb_extension_fts.__file__).parent
            / "extensions"
            / f"v{version}"
            / "fts.duckdb_extension"
        )
        if path.exists():
            con.execute(f"LOAD '{path}'")
            return
    except ImportError:
        pass
    try:
        con.execute("LOAD fts")  # already installed in ~/.duckdb (a machine with internet)
    except duckdb.Error as exc:
        raise FtsUnavailable(
            f"DuckDB's fts extension for duckdb {duckdb.__version__} is not available offline: "
            f"install duckdb-extension-fts=={duckdb.__version__} ({str(exc).splitlines()[0]})"
        ) from None
