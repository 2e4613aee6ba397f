"""SQL for tagging results: replace an article's tags in one go, stamped with the tagger version."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

import duckdb
import pyarrow as pa

from spacewatch.seeds.registry import Registry
from spacewatch.seeds.tagger import Candidate, TagResult
from spacewatch.warehouse.batch import registered, transaction

_TAGS = pa.schema(
    [
        ("article_id", pa.int64()),
        ("language", pa.string()),
        ("themes_judged", pa.bool_()),
        ("relevant", pa.bool_()),
        ("relevance", pa.float64()),
        ("seed_similarity_max", pa.float64()),
        ("truncated", pa.bool_()),
    ]
)
_THEMES = pa.schema(
    [
        ("article_id", pa.int64()),
        ("theme_id", pa.string()),
        ("score", pa.float64()),
        ("evidence", pa.list_(pa.string())),
    ]
)
_ACTORS = pa.schema(
    [
        ("article_id", pa.int64()),
        ("actor_id", pa.string()),
        ("mentions", pa.int32()),
        ("evidence", pa.list_(pa.string())),
        ("via", pa.list_(pa.string())),
    ]
)
_SEEDS = pa.schema([("article_id", pa.int64()), ("seed", pa.string()), ("score", pa.float64())])
_IDS = pa.schema([("article_id", pa.int64())])


def insert_tags(
    con: duckdb.DuckDBPyConnection,
    tagged: Sequence[tuple[int, TagResult]],
    version: str,
    now: datetime,
) -> None:
    """Replace the tags of these articles; call inside the caller's transaction."""
    if not tagged:
        return
    tables = {
        "tag_ids": pa.Table.from_pylist([{"article_id": i} for i, _ in tagged], _IDS),
        "tag_rows": pa.Table.from_pylist(
            [
                {
                    "article_id": i,
                    "language": t.language,
                    "themes_judged": t.themes_judged,
                    "relevant": t.relevant,
                    "relevance": t.relevance,
                    "seed_similarity_max": t.seed_similarity_max,
                    "truncated": t.truncated,
                }
                for i, t in tagged
            ],
            _TAGS,
        ),
        "tag_themes": pa.Table.from_pylist(
            [
                {
                    "article_id": i,
                    "theme_id": th.id,
                    "score": th.score,
                    "evidence": list(th.evidence),
                }
                for i, t in tagged
                for th in t.themes
            ],
            _THEMES,
        ),
        "tag_actors": pa.Table.from_pylist(
            [
                {
                    "article_id": i,
                    "actor_id": a.id,
                    "mentions": a.mentions,
                    "evidence": list(a.evidence),
                    "via": list(a.via),
                }
                for i, t in tagged
                for a in t.actors
            ],
            _ACTORS,
        ),
        "tag_seeds": pa.Table.from_pylist(
            [
                {"article_id": i, "seed": seed, "score": score}
                for i, t in tagged
                for seed, score in t.seed_similarity
            ],
            _SEEDS,
        ),
    }
    with registered(con, **tables):
        for target in (
            "article_tags",
            "article_themes",
            "article_actors",
            "article_seed_similarity",
        ):
            con.execute(
                f"DELETE FROM {target} WHERE article_id IN (SELECT article_id FROM tag_ids)"
            )
        params = {"v": version, "now": now}
        con.execute(
            """INSERT INTO article_tags SELECT article_id, $v, $now, language, themes_judged,
                   relevant, relevance, seed_similarity_max, truncated FROM tag_rows""",
            params,
        )
        con.execute(
            "INSERT INTO article_themes SELECT article_id, theme_id, score, evidence, $v "
            "FROM tag_themes",
            {"v": version},
        )
        con.execute(
            "INSERT INTO article_actors SELECT article_id, actor_id, mentions, evidence, via, $v "
            "FROM tag_actors",
            {"v": version},
        )
        con.execute(
            "INSERT INTO article_seed_similarity SELECT article_id, seed, score, $v FROM tag_seeds",
            {"v": version},
        )


def save_registry(con: duckdb.DuckDBPyConnection, registry: Registry, version: str) -> None:
    """Mirror the registries' ids, names and kinds for analysts' joins."""
    actors = pa.Table.from_pylist(
        [{"actor_id": a.id, "name": a.name, "kind": a.kind} for a in registry.actors]
    )
    themes = pa.Table.from_pylist(
        [{"theme_id": t.id, "description": t.description} for t in registry.themes]
    )
    with transaction(con), registered(con, reg_actors=actors, reg_themes=themes):
        con.execute("DELETE FROM registry_actors")
        con.execute("DELETE FROM registry_themes")
        con.execute(
            "INSERT INTO registry_actors SELECT actor_id, name, kind, ? FROM reg_actors", [version]
        )
        con.execute(
            "INSERT INTO registry_themes SELECT theme_id, description, ? FROM reg_themes", [version]
        )


def save_seed_tags(
    con: duckdb.DuckDBPyConnection,
    tagged: Sequence[tuple[str, TagResult]],
    version: str,
) -> None:
    """What each seed document is about, for the v_recurring view."""
    rows = []
    for seed, result in tagged:
        rows += [
            {"seed": seed, "kind": "actor", "tag_id": a.id, "weight": float(a.mentions)}
            for a in result.actors
        ]
        rows += [
            {"seed": seed, "kind": "theme", "tag_id": th.id, "weight": th.score}
            for th in result.themes
        ]
    table = pa.Table.from_pylist(
        rows,
        pa.schema(
            [
                ("seed", pa.string()),
                ("kind", pa.string()),
                ("tag_id", pa.string()),
                ("weight", pa.float64()),
            ]
        ),
    )
    with transaction(con), registered(con, seed_rows=table):
        con.execute("DELETE FROM seed_tags")
        con.execute("INSERT INTO seed_tags SELECT *, ? FROM seed_rows", [version])


def recent_relevant_texts(
    con: duckdb.DuckDBPyConnection, days: int, limit: int = 5000
) -> list[tuple[str, str]]:
    rows = con.execute(
        """SELECT a.article_id, a.text FROM articles a JOIN article_tags t USING (article_id)
           WHERE t.relevant AND a.text IS NOT NULL
             AND a.first_seen_at >= now() - to_days(CAST(? AS INTEGER))
           ORDER BY a.first_seen_at DESC LIMIT ?""",
        [days, limit],
    ).fetchall()
    return [(str(i), t) for i, t in rows]


def save_emerging(
    con: duckdb.DuckDBPyConnection, candidates: Sequence[Candidate], now: datetime
) -> None:
    rows = [
        {
            "name": c.name,
            "mentions": c.count,
            "articles": c.documents,
            "examples": [int(e) for e in c.examples if str(e).isdigit()],
        }
        for c in candidates
    ]
    table = pa.Table.from_pylist(
        rows,
        pa.schema(
            [
                ("name", pa.string()),
                ("mentions", pa.int32()),
                ("articles", pa.int32()),
                ("examples", pa.list_(pa.int64())),
            ]
        ),
    )
    with transaction(con), registered(con, emerging=table):
        con.execute("DELETE FROM emerging_actors")
        con.execute("INSERT INTO emerging_actors SELECT *, ? FROM emerging", [now])


def iter_articles(
    con: duckdb.DuckDBPyConnection, batch: int = 2000, *, relevant_only: bool = False
) -> Iterator[list[tuple[int, str | None, str | None, datetime | None, str | None]]]:
    """(article_id, title, text, published_at, language) in batches, for re-tagging."""
    where = (
        "WHERE article_id IN (SELECT article_id FROM article_tags WHERE relevant)"
        if relevant_only
        else ""
    )
    cur = con.cursor()
    cur.execute(
        f"SELECT article_id, title, text, published_at, language FROM articles {where} "
        "ORDER BY article_id"
    )
    while rows := cur.fetchmany(batch):
        yield rows


def count_articles(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT count(*) FROM articles").fetchone()[0])  # type: ignore[index]
