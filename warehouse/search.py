"""Search like a search box: the `search_stories` macro, and the query `spacewatch search` runs.

The query language lives in one place, warehouse/search.sql, as two SQL macros that every
published snapshot carries (`search_articles`, `search_stories`): words are AND-ed and stemmed,
"quoted phrases" must appear as written, `OR` joins alternatives, `-word` excludes, and an empty
query means the filters alone. `spacewatch search` calls the same macro with its options as
arguments, so the command and an analyst's SQL cannot disagree (docs/warehouse.md).

Words are matched in the BM25 index's own tables (dict, terms), as match_bm25 reads them, not
in the article texts; only a phrase is checked on the text, and only in the articles that hold
all of its words. Its speed at a million articles has not been measured yet (bench/analysts.py
times `spacewatch search`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import resources

import duckdb

ORDER = "score DESC NULLS LAST, date DESC, story_id"


@dataclass(frozen=True)
class SearchFilters:
    actors: tuple[str, ...] = ()  # the article names every one of them
    themes: tuple[str, ...] = ()  # the article has every one of them
    source: str | None = None  # site or feed name contains this
    since: datetime | None = None
    until: datetime | None = None  # inclusive day
    relevant: bool = True  # space-policy articles only, as `spacewatch report`


def search_macros_sql() -> str:
    return resources.files("spacewatch.warehouse").joinpath("search.sql").read_text("utf-8")


def create_search_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Define the macros in a database that has the `fts_main_articles` index."""
    con.execute(search_macros_sql())


def build_search(text: str, filters: SearchFilters, limit: int = 20) -> tuple[str, list]:
    """(SQL, parameters): one row per story, best first; newest first for an empty query."""
    sql = f"""SELECT score, date, title, outlets, articles, themes, url, story_id
        FROM search_stories(?, relevant_only := ?, actors := ?::VARCHAR[],
                            themes := ?::VARCHAR[], source := ?::VARCHAR,
                            since := ?::TIMESTAMPTZ, until := ?::TIMESTAMPTZ)
        ORDER BY {ORDER} LIMIT {int(limit)}"""
    params = [
        text,
        filters.relevant,
        list(filters.actors) or None,
        list(filters.themes) or None,
        filters.source or None,
        filters.since,
        filters.until,
    ]
    return sql, params


def unknown_ids(
    con: duckdb.DuckDBPyConnection, kind: str, wanted: tuple[str, ...]
) -> tuple[list[str], list[str]]:
    """(unknown, valid) ids of `kind` ('actor' or 'theme') among `wanted`, from the registry."""
    table = {"actor": "registry_actors", "theme": "registry_themes"}[kind]
    valid = [r[0] for r in con.execute(f"SELECT {kind}_id FROM {table} ORDER BY 1").fetchall()]
    known = set(valid)
    return [w for w in wanted if w not in known], valid
