"""The `spacewatch-pipeline` flow: poll feeds, fetch and extract new articles, store them.

Prefect here is wiring: each task wraps a plain function from `steps` or `warehouse.store`.
Tasks work per feed set or per chunk of articles, never per article (a task run costs ~8 ms).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from pebble import ProcessPool
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context
from prefect.events import emit_event

from spacewatch.alerts.delivery import DeliverySummary, deliver_digests, deliver_pending
from spacewatch.alerts.topics import load_rules
from spacewatch.config import Config
from spacewatch.extractors.models import Article, ArticleCandidate, FeedState, FeedUpdate
from spacewatch.extractors.polling import due_feeds
from spacewatch.flows import runners, steps
from spacewatch.flows.health_tasks import run_health_check, run_health_notices
from spacewatch.flows.run_config import load_run_config
from spacewatch.seeds.registry import load_corpus
from spacewatch.seeds.tagger import discover_candidates
from spacewatch.seeds.tagging import load_tagger
from spacewatch.warehouse import store, tags
from spacewatch.warehouse.connect import WarehouseBusy, open_for_writing, writer_lock
from spacewatch.warehouse.snapshot import publish_snapshot, snapshot_due, snapshot_published_at


@dataclass
class RunSummary:
    run_id: int = 0
    feeds_due: int = 0
    feeds_polled: int = 0
    feeds_ok: int = 0
    feeds_not_modified: int = 0
    feeds_unchanged: int = 0
    feeds_failed: int = 0
    feeds_skipped: int = 0
    entries_seen: int = 0
    entries_new: int = 0
    articles_new: int = 0
    articles_duplicate: int = 0
    articles_extracted: int = 0
    articles_fallback: int = 0
    articles_empty: int = 0
    pages_failed: int = 0
    stories_new: int = 0
    syndicated_copies: int = 0
    alerts_new: int = 0
    alerts_sent: int = 0
    alerts_deferred: int = 0
    alerts_failed: int = 0
    poll_s: float = 0.0
    articles_s: float = 0.0
    extract_s: float = 0.0
    store_s: float = 0.0
    total_s: float = 0.0
    snapshot_s: float = 0.0  # publishing the analysts' snapshot, after the run is recorded
    failures: list[str] = field(default_factory=list)  # feeds that failed, one line each
    alert_errors: list[str] = field(default_factory=list)  # alert deliveries that failed
    # host:pid of each process that fetched and extracted a chunk ([runner] kind).
    extract_processes: list[str] = field(default_factory=list)
    # (topic, story, article) of each new match, announced once the run has committed.
    matches: list[tuple[str, int, int]] = field(default_factory=list, repr=False)

    def counters(self) -> dict[str, int | float]:
        skip = ("run_id", "failures", "alert_errors", "snapshot_s", "extract_processes", "matches")
        return {k: v for k, v in asdict(self).items() if k not in skip}

    def lines(self) -> list[str]:
        return [
            f"feeds: {self.feeds_polled} polled, {self.feeds_ok} with new content, "
            f"{self.feeds_not_modified + self.feeds_unchanged} not modified, "
            f"{self.feeds_failed} failed, {self.feeds_skipped} backed off",
            f"entries: {self.entries_seen} seen, {self.entries_new} new",
            f"articles: {self.articles_new} new, {self.articles_duplicate} already stored, "
            f"{self.articles_extracted} extracted, {self.articles_fallback} from feed text, "
            f"{self.articles_empty} without text, {self.pages_failed} pages failed",
            f"stories: {self.stories_new} new, {self.syndicated_copies} syndicated copies",
            f"alerts: {self.alerts_new} new, {self.alerts_sent} sent, "
            f"{self.alerts_deferred} deferred, {self.alerts_failed} failed or to retry",
            f"time: {self.total_s:.1f} s (polling {self.poll_s:.1f} s, "
            f"articles {self.articles_s:.1f} s)",
        ]


def _now() -> datetime:
    return datetime.now(UTC)


@task(name="sync-feeds", cache_policy=NO_CACHE)
def sync_feeds_task(con: duckdb.DuckDBPyConnection, config: Config) -> list[FeedState]:
    return store.sync_feeds(con.cursor(), [(f.url, f.name) for f in config.feeds], _now())


@dataclass(frozen=True)
class Prepared:
    tagger_version: str
    alerting: tuple


@task(name="prepare-tagger", cache_policy=NO_CACHE)
def prepare_tagger_task(con: duckdb.DuckDBPyConnection, config: Config) -> Prepared:
    """Load registries and topic rules (errors surface before any fetching); mirror them."""
    tagger, registry, version = load_tagger(config.tagging_paths())
    alerting = load_rules(config, registry)
    cur = con.cursor()
    tags.save_registry(cur, registry, version)
    corpus = load_corpus(config.tagging_paths()[2])
    tags.save_seed_tags(cur, [(d.name, tagger.tag(d.text)) for d in corpus], version)
    return Prepared(version, alerting)


@task(name="refresh-emerging-actors", cache_policy=NO_CACHE)
def emerging_task(con: duckdb.DuckDBPyConnection, config: Config) -> int:
    tagger = load_tagger(config.tagging_paths())[0]
    cur = con.cursor()
    texts = tags.recent_relevant_texts(cur, config.tagging.emerging_window_days)
    candidates = discover_candidates(tagger, texts)
    tags.save_emerging(cur, candidates, _now())
    return len(candidates)


@task(name="poll-feeds", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def poll_feeds_task(feeds: list[FeedState], config: Config) -> list[steps.PolledFeed]:
    return steps.poll_feeds(feeds, config, _now())


@task(name="select-new-entries", cache_policy=NO_CACHE)
def select_task(
    con: duckdb.DuckDBPyConnection, polled: list[steps.PolledFeed], run_id: int
) -> steps.Selection:
    cur = con.cursor()
    pairs, urls = steps.candidate_keys(polled)
    selection = steps.select_new(
        polled, store.known_sources(cur, pairs), store.known_articles(cur, urls)
    )
    store.save_sources(cur, run_id, _now(), selection.known_links)
    return selection


@task(name="fetch-extract", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def extract_chunk_task(
    chunk: list[list[ArticleCandidate]],
    config: Config,
    pool: ProcessPool | None,
    site_names: dict[int, str | None],
    private_feeds: frozenset[int] | None = None,
) -> tuple[list[Article], steps.EnrichStats]:
    """`pool` is the flow's own; None on a Dask worker, which keeps a pool of its own.
    `private_feeds`: the feeds whose linked pages may reach private addresses."""
    pool = pool if pool is not None else runners.worker_pool(config)
    articles, stats = asyncio.run(
        steps.fetch_and_extract(chunk, config, pool, site_names, private_feeds)
    )
    stats.process = runners.process_name()
    return articles, stats


@task(name="store-articles", cache_policy=NO_CACHE)
def store_chunk_task(
    con: duckdb.DuckDBPyConnection,
    chunk: list[list[ArticleCandidate]],
    articles: list[Article],
    config: Config,
    run_id: int,
    prepared: Prepared,
) -> tuple[store.SaveStats, float]:
    started = time.perf_counter()
    saved = store.save_articles(
        con.cursor(),
        run_id,
        _now(),
        articles,
        [steps.source_link(c) for group in chunk for c in group],
        threshold=config.dedupe.similarity,
        min_words=config.dedupe.min_words,
        tagger_version=prepared.tagger_version,
        alerting=prepared.alerting,
        max_age_h=config.alerts.max_age_h,
    )
    return saved, time.perf_counter() - started


# Seconds a delivery waits for the writer (a pipeline run holds it for minutes) to record.
DELIVERY_WAIT_S = 900.0


@task(name="deliver-alerts", cache_policy=NO_CACHE)
def deliver_task(config: Config, wait_s: float = DELIVERY_WAIT_S) -> DeliverySummary:
    """Immediate alerts that are due, and failed ones whose retry time has come; sent outside
    the writer (alerts/delivery.py)."""
    return deliver_pending(config, wait_s, _now)


def emit_matches(matches: Sequence[tuple[str, int, int]], topics: dict[str, str]) -> None:
    """One Prefect event per new topic match, emitted after the run committed: they trigger
    the `spacewatch-delivery` deployment, and operators' own automations. A lost event only
    delays delivery to that deployment's schedule (the safety net)."""
    for topic_id, story_id, article_id in matches:
        emit_event(
            event="spacewatch.topic.matched",
            resource={
                "prefect.resource.id": f"spacewatch.topic.{topic_id}",
                "prefect.resource.name": topics.get(topic_id, topic_id),
            },
            payload={"topic": topic_id, "story_id": story_id, "article_id": article_id},
        )


@task(name="publish-snapshot", cache_policy=NO_CACHE)
def publish_task(con: duckdb.DuckDBPyConnection, path: Path) -> float:
    """The analysts' read-only copy, swapped in atomically (see warehouse/snapshot.py)."""
    return publish_snapshot(con.cursor(), path)[1]


@task(name="save-polls", cache_policy=NO_CACHE)
def save_polls_task(con: duckdb.DuckDBPyConnection, run_id: int, updates: list[FeedUpdate]) -> None:
    store.save_feed_updates(con.cursor(), run_id, updates)


def _flow_run_id() -> str | None:
    try:
        return str(get_run_context().flow_run.id)  # type: ignore[union-attr]
    except Exception:  # outside a flow run (plain call in tests)
        return None


_FALLBACK_WORDS = {"none": "; stored without text", "trafilatura": ""}


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def run_cycle(con: duckdb.DuckDBPyConnection, config: Config) -> RunSummary:
    """One polling cycle on an open warehouse; composes the tasks above."""
    # Worker processes start in the background while feeds are polled.
    with runners.open_chunk_runner(config, extract_chunk_task) as runner:
        return _run_cycle(con, config, runner)


def _run_cycle(
    con: duckdb.DuckDBPyConnection, config: Config, runner: runners.ChunkRunner
) -> RunSummary:
    started = time.perf_counter()
    summary = RunSummary()
    run_id = store.start_run(con, _now(), _flow_run_id())
    summary.run_id = run_id
    try:
        prepared = prepare_tagger_task(con, config)
        feeds = sync_feeds_task(con, config)
        due, waiting = due_feeds(feeds, _now())
        summary.feeds_due, summary.feeds_skipped = len(due), len(waiting)

        t0 = time.perf_counter()
        polled = poll_feeds_task(due, config) if due else []
        summary.poll_s = time.perf_counter() - t0
        logger = get_run_logger()
        for p in polled:
            u = p.update
            if not u.success:
                summary.feeds_failed += 1
                summary.failures.append(f"{p.state.url}: {u.error}")
                # Each failure is a log line of the run, so the Prefect UI shows it.
                logger.warning(f"feed failed: {p.state.url}: {u.error}")
            elif u.unchanged:
                if u.outcome == "not_modified":
                    summary.feeds_not_modified += 1
                else:
                    summary.feeds_unchanged += 1
            else:
                summary.feeds_ok += 1
        summary.feeds_polled = len(polled)

        selection = select_task(con, polled, run_id)
        summary.entries_seen = selection.entries_seen
        summary.entries_new = sum(selection.new_entries.values())
        summary.articles_duplicate = len(selection.known_links)

        t0 = time.perf_counter()
        site_names = {
            p.state.feed_id: (p.parsed.title if p.parsed else None) or p.state.name for p in polled
        }
        # Chunk k is stored while the next ones are fetched and extracted (one locally, one per
        # Dask worker thread), so the workers do not wait for the database.
        # Article pages inherit the private-address setting of the feeds that link them.
        private = steps.private_feed_ids([p.state for p in polled], config)
        chunks = _chunks(selection.to_fetch, config.extract.chunk_size)
        ahead = runner.ahead if chunks else 0
        running = deque(runner.submit(chunk, site_names, private) for chunk in chunks[:ahead])
        for index, chunk in enumerate(chunks):
            articles, stats = running.popleft().result()
            if index + ahead < len(chunks):
                running.append(runner.submit(chunks[index + ahead], site_names, private))
            if stats.process not in summary.extract_processes:
                summary.extract_processes.append(stats.process)
            for article in articles:
                if article.fetch_error:
                    kept = _FALLBACK_WORDS.get(
                        article.extraction_method, "; the feed's own text is stored instead"
                    )
                    logger.warning(f"page failed: {article.url}: {article.fetch_error}{kept}")
            saved, store_s = store_chunk_task(con, chunk, articles, config, run_id, prepared)
            del articles
            summary.store_s += store_s
            summary.extract_s += stats.extract_s
            summary.articles_new += saved.articles_new
            summary.articles_extracted += stats.extracted
            summary.articles_fallback += stats.fallback
            summary.articles_empty += stats.empty
            summary.pages_failed += stats.pages_failed
            summary.stories_new += saved.stories_new
            summary.syndicated_copies += saved.syndicated_copies
            summary.alerts_new += saved.alerts_new
            summary.matches += saved.matches
        summary.articles_s = time.perf_counter() - t0

        # Validators move only now, after every new entry of these feeds is stored: a run that
        # dies earlier re-reads the same feed bodies next time instead of losing entries.
        updates = [
            _with_new_entries(p.update, selection.new_entries.get(p.state.feed_id)) for p in polled
        ]
        save_polls_task(con, run_id, updates)
        if summary.articles_new:
            emerging_task(con, config)
        # Last: judge the monitor itself and tell the operator; never fails the run.
        run_health_check(con, config)
        summary.total_s = time.perf_counter() - started
        store.finish_run(con, run_id, _now(), "completed", summary.counters())
    except BaseException as exc:
        summary.total_s = time.perf_counter() - started
        store.finish_run(
            con, run_id, _now(), "failed", summary.counters(), f"{type(exc).__name__}: {exc}"
        )
        raise
    return summary


def _with_new_entries(update: FeedUpdate, count: int | None) -> FeedUpdate:
    return replace(update, new_entries=count)


def _publish(summary: RunSummary, config: Config) -> None:
    rows = "\n".join(f"- {line}" for line in summary.lines())
    failures = "\n".join(f"- `{f}`" for f in summary.failures[:50])
    markdown = (
        f"# Spacewatch run {summary.run_id}\n\nWarehouse: `{config.warehouse_path}`\n\n{rows}\n"
    )
    if failures:
        markdown += f"\n## Failed feeds\n{failures}\n"
    alert_errors = "\n".join(f"- `{e}`" for e in summary.alert_errors[:50])
    if alert_errors:
        markdown += f"\n## Alert delivery errors\n{alert_errors}\n"
    create_markdown_artifact(
        markdown=markdown,
        key="spacewatch-run-summary",
        description="Counts of the last pipeline run",
    )


def _snapshot(
    con: duckdb.DuckDBPyConnection, config: Config, summary: RunSummary, logger: Any
) -> None:
    path = config.warehouse_path
    published = snapshot_published_at(path)
    if snapshot_due(published, _now(), config.warehouse.snapshot_every_min):
        summary.snapshot_s = publish_task(con, path)
    else:
        age_min = (_now() - published).total_seconds() / 60  # type: ignore[operator]
        logger.info(
            f"analysts' snapshot kept: published {age_min:.0f} min ago, "
            f"[warehouse] snapshot_every_min = {config.warehouse.snapshot_every_min:g}"
        )


@flow(name="spacewatch-pipeline", log_prints=True)
def pipeline(config_path: str | None = None, wait_s: float = 0.0, deliver: bool = True) -> dict:
    """Poll every due feed, fetch and extract new articles, store them in the warehouse.

    After it commits and lets go of the writer it announces its matches (events that trigger
    the `spacewatch-delivery` deployment); with `deliver` it then sends the due alerts itself,
    as `spacewatch run` does for cron users. The deployments pass deliver=False.

    `config_path` empty: $SPACEWATCH_CONFIG, then the Prefect Variable `spacewatch_config`.
    """
    config = load_run_config(config_path)
    logger = get_run_logger()
    path = config.warehouse_path
    deliver = deliver and bool(config.subscribers)
    with writer_lock(path, wait_s):
        con = open_for_writing(path)
        try:
            summary = run_cycle(con, config)
            if not deliver:
                _snapshot(con, config, summary, logger)
        finally:
            con.close()
    emit_matches(summary.matches, {t.id: t.name for t in config.topics})
    run_health_notices(config, DELIVERY_WAIT_S)
    if deliver:
        try:
            delivered = deliver_task(config)
        except WarehouseBusy as exc:  # committed; the alerts wait for the next delivery
            logger.warning(f"alerts not sent now: {exc}")
            delivered = DeliverySummary(errors=[f"alerts not sent now: {exc}"])
        summary.alerts_sent = delivered.sent
        summary.alerts_deferred = delivered.deferred
        summary.alerts_failed = delivered.failed + delivered.retrying
        summary.alert_errors += delivered.errors
        # The writer again, to count the deliveries in the run's row and publish a snapshot
        # that shows them (a run in between would publish its own: nothing is lost).
        try:
            with writer_lock(path, wait_s):
                con = open_for_writing(path)
                try:
                    store.count_deliveries(
                        con,
                        summary.run_id,
                        summary.alerts_sent,
                        summary.alerts_deferred,
                        summary.alerts_failed,
                    )
                    _snapshot(con, config, summary, logger)
                finally:
                    con.close()
        except WarehouseBusy as exc:
            logger.warning(f"delivery counts and snapshot left to the next run: {exc}")
    for line in summary.lines():
        logger.info(line)
    _publish(summary, config)
    result = asdict(summary)
    del result["matches"]
    return result


@flow(name="spacewatch-digest", log_prints=True)
def digest_flow(
    config_path: str | None = None, force: bool = False, wait_s: float = DELIVERY_WAIT_S
) -> dict:
    """Send the digests that are due: run hourly, each subscriber gets one at its digest hour."""
    config = load_run_config(config_path)
    summary = deliver_digests(config, wait_s, _now(), force=force)
    get_run_logger().info(f"{summary.digests} digest(s) sent covering {summary.sent} alerts")
    return asdict(summary)


@flow(name="spacewatch-delivery", log_prints=True)
def delivery_flow(config_path: str | None = None, wait_s: float = DELIVERY_WAIT_S) -> dict:
    """Send the alerts that are due: triggered by each run's `spacewatch.topic.matched`
    events, and on a short schedule as a safety net. Holds the writer only to record."""
    config = load_run_config(config_path)
    summary = deliver_pending(config, wait_s, _now)
    get_run_logger().info(summary.line())
    for error in summary.errors[:50]:
        get_run_logger().warning(error)
    return asdict(summary)


def run_pipeline(config_path: str | Path, wait_s: float = 0.0) -> RunSummary:
    """Run the flow (starting Prefect's embedded server if no API is configured)."""
    result = pipeline(str(config_path), wait_s)
    return RunSummary(**result)
