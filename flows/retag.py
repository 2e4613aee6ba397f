"""`spacewatch retag`: recompute every stored article's tags after a registry or model change."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

import duckdb
from pebble import ProcessFuture

from spacewatch.config import Config
from spacewatch.flows.steps import extraction_pool
from spacewatch.seeds.registry import load_corpus
from spacewatch.seeds.tagger import TagResult, discover_candidates
from spacewatch.seeds.tagging import load_tagger, title_unless_repeated
from spacewatch.warehouse import tags
from spacewatch.warehouse.batch import transaction

Row = tuple[int, str | None, str | None, datetime | None, str | None]


def tag_rows(rows: list[Row]) -> list[tuple[int, TagResult]]:
    """Worker side: tag a batch of stored articles (the worker's tagger is already built)."""
    from spacewatch.seeds import tagging

    tagger = load_tagger(tagging._PATHS)[0]
    return [
        (
            article_id,
            tagger.tag(
                text or "", title=title_unless_repeated(title, text or ""), published=published
            ),
        )
        for article_id, title, text, published, _language in rows
    ]


def retag(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    progress: Callable[[int, int], None] | None = None,
    batch: int = 500,
) -> tuple[int, str]:
    """Re-tag all stored articles with the current registries; returns (count, version)."""
    tagger, registry, version = load_tagger(config.tagging_paths())
    total = tags.count_articles(con)
    tags.save_registry(con, registry, version)
    corpus = load_corpus(config.tagging_paths()[2])
    tags.save_seed_tags(con, [(d.name, tagger.tag(d.text)) for d in corpus], version)
    done = 0
    window = 2 * config.extract.workers  # batches in flight: bounded memory at any size

    def store(future: ProcessFuture) -> None:
        nonlocal done
        tagged = future.result()
        with transaction(con):
            tags.insert_tags(con, tagged, version, datetime.now(UTC))
        done += len(tagged)
        if progress:
            progress(done, total)

    reader = con.cursor()  # the writes below go through `con`; reading needs its own cursor
    with extraction_pool(config.extract.workers, config.tagging_paths()) as pool:
        pending: deque[ProcessFuture] = deque()
        for rows in tags.iter_articles(reader, batch):
            pending.append(pool.schedule(tag_rows, args=(rows,)))
            if len(pending) >= window:
                store(pending.popleft())
        while pending:
            store(pending.popleft())
    texts = tags.recent_relevant_texts(con, config.tagging.emerging_window_days)
    tags.save_emerging(con, discover_candidates(tagger, texts), datetime.now(UTC))
    return done, version
