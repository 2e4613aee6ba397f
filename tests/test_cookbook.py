"""docs/sql-cookbook.md runs: every ```sql block, on the bundled sample, prints its ```text block.

Regenerate the outputs after a deliberate change with
`SPACEWATCH_UPDATE_COOKBOOK=1 .venv/bin/pytest tests/test_cookbook.py` (the test then rewrites
the document and fails, so a regeneration is never mistaken for a pass), and read the diff.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from helpers import sample_feeds, write_config
from spacewatch.flows import pipeline
from spacewatch.loopback import LoopbackServer, load_sample_routes
from spacewatch.warehouse.snapshot import open_snapshot

pytestmark = pytest.mark.usefixtures("prefect_harness")

COOKBOOK = Path(__file__).resolve().parents[1] / "docs" / "sql-cookbook.md"
UPDATE = os.environ.get("SPACEWATCH_UPDATE_COOKBOOK") == "1"
MIN_QUERIES = 14

# A ```sql block, then (blank lines only in between) the ```text block holding its output.
BLOCK = re.compile(r"```sql\n(?P<sql>.*?)```(?P<gap>\s*)```text\n(?P<text>.*?)```", re.DOTALL)


def parse(markdown: str) -> list[tuple[str, str]]:
    return [(m["sql"], m["text"]) for m in BLOCK.finditer(markdown)]


def fmt(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | Decimal):
        return f"{value:.2f}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value).replace("\r", "\\r").replace("\n", "\\n")


def render(con: Any, sql: str) -> str:
    """Header line of column names, then one line per row; values joined by ' | '."""
    cursor = con.execute(sql)
    lines = [" | ".join(d[0] for d in cursor.description)]
    lines += [" | ".join(fmt(v) for v in row) for row in cursor.fetchall()]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The bundled sample through the real pipeline, once for the module."""
    folder = tmp_path_factory.mktemp("cookbook")
    with LoopbackServer() as server:
        for path, route in load_sample_routes(server.base_url).items():
            server.set(path, route)
        pipeline.run_pipeline(write_config(folder, sample_feeds(server.base_url)))
    yield folder / "wh.duckdb"


def test_cookbook_queries_print_their_documented_output(sample_warehouse: Path) -> None:
    markdown = COOKBOOK.read_text("utf-8")
    blocks = parse(markdown)
    assert len(blocks) >= MIN_QUERIES, (
        f"{COOKBOOK.name}: {len(blocks)} queries, want {MIN_QUERIES}+"
    )

    # The snapshot, read-only, UTC and locked, with full-text search: what the cookbook says to
    # open and what `spacewatch sql` / `spacewatch query` open.
    con = open_snapshot(sample_warehouse)
    try:
        actual = [render(con, sql) for sql, _ in blocks]
    finally:
        con.close()

    if UPDATE:
        outputs = iter(actual)
        COOKBOOK.write_text(
            BLOCK.sub(
                lambda m: f"```sql\n{m['sql']}```{m['gap']}```text\n{next(outputs)}```", markdown
            ),
            encoding="utf-8",
        )
        pytest.fail(f"SPACEWATCH_UPDATE_COOKBOOK=1: rewrote {COOKBOOK}; review the diff, rerun")

    for (sql, expected), got in zip(blocks, actual, strict=True):
        assert got == expected, f"query:\n{sql}"


def test_the_docs_agree_on_the_file_to_open() -> None:
    """Both docs send analysts to the snapshot (what `spacewatch sql` opens), not the warehouse."""
    warehouse_md = (COOKBOOK.parent / "warehouse.md").read_text("utf-8")
    cookbook = COOKBOOK.read_text("utf-8")
    for text in (warehouse_md, cookbook):
        assert "<warehouse>.snapshot.duckdb" in text and "spacewatch sql" in text
        assert not re.search(r"duckdb\s+(-readonly\s+)?\S*wh\.duckdb", text)
