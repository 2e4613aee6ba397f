"""The pipeline's steps as plain functions: Prefect tasks wrap them, tests call them directly."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from pebble import ProcessExpired, ProcessPool

from spacewatch.config import Config
from spacewatch.extractors import articles as extract
from spacewatch.extractors.feeds import parse_feed
from spacewatch.extractors.fetch import Fetcher, FetchPolicy
from spacewatch.extractors.models import (
    Article,
    ArticleCandidate,
    FeedState,
    FeedUpdate,
    FetchResult,
    Outcome,
    ParsedFeed,
    SourceLink,
)
from spacewatch.extractors.polling import BackoffPolicy, body_digest, decide_update
from spacewatch.extractors.urls import canonical_url
from spacewatch.seeds.tagger import Tagger
from spacewatch.seeds.tagging import (
    BUNDLED,
    TaggingPaths,
    init_worker,
    load_tagger,
    title_unless_repeated,
    work_page,
)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
HTML_TYPES = ("text/html", "application/xhtml", "text/plain", "application/xml", "text/xml")


# --- polling ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolledFeed:
    state: FeedState
    update: FeedUpdate
    parsed: ParsedFeed | None  # None unless the body was new


def evaluate_poll(
    state: FeedState, result: FetchResult, now: datetime, policy: BackoffPolicy
) -> PolledFeed:
    """Parse a fresh body; skip parsing when the body is byte-identical to the last one."""
    if result.outcome is not Outcome.OK:
        return PolledFeed(state, decide_update(state, result, now, policy), None)
    digest = body_digest(result.body)
    if digest == state.body_hash:
        update = decide_update(state, result, now, policy, unchanged=True, body_hash=digest)
        return PolledFeed(state, update, None)
    parsed = parse_feed(result.body, dict(result.headers), result.final_url)
    update = decide_update(state, result, now, policy, parsed=parsed, body_hash=digest)
    return PolledFeed(state, update, parsed)


async def fetch_feeds(
    feeds: Sequence[FeedState],
    policy: FetchPolicy,
    allows_private: Mapping[str, bool] | None = None,
) -> list[FetchResult]:
    """`allows_private`: configured URL -> the feed's own setting (default: the policy's)."""
    allows_private = allows_private or {}
    async with Fetcher(policy) as fetcher:
        return list(
            await asyncio.gather(
                *(
                    fetcher.fetch(
                        f.url,
                        etag=f.etag,
                        last_modified=f.last_modified,
                        accept=FEED_ACCEPT,
                        allow_private=allows_private.get(f.configured_url),
                    )
                    for f in feeds
                )
            )
        )


def private_feed_ids(feeds: Sequence[FeedState], config: Config) -> frozenset[int]:
    """The feeds whose fetches, and the pages they link, may reach private addresses."""
    allows = config.feed_allows_private()
    default = config.fetch.allow_private_addresses
    return frozenset(f.feed_id for f in feeds if allows.get(f.configured_url, default))


def page_allows_private(group: Sequence[ArticleCandidate], private_feeds: frozenset[int]) -> bool:
    """A page may reach private addresses when a feed that links it in this run may: that
    feed vouches for the URL, and the page is fetched once for all the feeds that link it."""
    return any(c.feed_id in private_feeds for c in group)


def poll_feeds(feeds: Sequence[FeedState], config: Config, now: datetime) -> list[PolledFeed]:
    results = asyncio.run(fetch_feeds(feeds, config.fetch_policy, config.feed_allows_private()))
    policy = config.backoff_policy
    return [_evaluate_one(f, r, now, policy) for f, r in zip(feeds, results, strict=True)]


def _evaluate_one(
    state: FeedState, result: FetchResult, now: datetime, policy: BackoffPolicy
) -> PolledFeed:
    """`evaluate_poll`, where an exception on one feed's body is that feed's failed poll (its
    validators stay, so the body is read again next time) rather than the run's failure."""
    try:
        return evaluate_poll(state, result, now, policy)
    except Exception as exc:
        reason = f"raised while parsing the feed: {type(exc).__name__}: {exc}"[:500]
        failed = replace(result, outcome=Outcome.HARD, error=reason, body=b"")
        return PolledFeed(state, decide_update(state, failed, now, policy), None)


# --- choosing what to fetch ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Selection:
    """New feed entries split into pages to fetch and links to articles already stored."""

    to_fetch: list[list[ArticleCandidate]]  # grouped by canonical URL, first-seen order
    known_links: list[SourceLink]
    new_entries: dict[int, int]  # feed_id -> entries not seen before
    entries_seen: int
    entries_without_link: int


def source_link(candidate: ArticleCandidate) -> SourceLink:
    entry = candidate.entry
    return SourceLink(
        candidate.feed_id,
        entry.guid,
        candidate.canonical_url,
        entry.link,
        entry.title,
        entry.published_at,
    )


def select_new(
    polled: Sequence[PolledFeed],
    seen_sources: set[tuple[int, str]],
    stored_urls: set[str] | dict[str, int],
) -> Selection:
    groups: dict[str, list[ArticleCandidate]] = {}
    known: list[SourceLink] = []
    new_entries: dict[int, int] = {}
    seen = without_link = 0
    for feed in polled:
        if feed.parsed is None:
            continue
        count = 0
        for entry in feed.parsed.entries:
            seen += 1
            key = (feed.state.feed_id, entry.guid)
            if key in seen_sources:
                continue
            url = canonical_url(entry.link) if entry.link else None
            if url is None:
                without_link += 1
                continue
            count += 1
            candidate = ArticleCandidate(url, entry.link or url, feed.state.feed_id, entry)
            if url in stored_urls:
                known.append(source_link(candidate))
            else:
                groups.setdefault(url, []).append(candidate)
        new_entries[feed.state.feed_id] = count
    return Selection(list(groups.values()), known, new_entries, seen, without_link)


def candidate_keys(polled: Sequence[PolledFeed]) -> tuple[list[tuple[int, str]], list[str]]:
    """(feed_id, guid) pairs and canonical URLs to look up in the warehouse."""
    pairs, urls = [], []
    for feed in polled:
        if feed.parsed is None:
            continue
        for entry in feed.parsed.entries:
            pairs.append((feed.state.feed_id, entry.guid))
            if entry.link and (url := canonical_url(entry.link)):
                urls.append(url)
    return pairs, urls


# --- fetching and extracting pages -----------------------------------------------------------


@contextmanager
def extraction_pool(workers: int, tagging_paths: TaggingPaths = BUNDLED) -> Iterator[ProcessPool]:
    """Worker processes for trafilatura; a document over its time limit kills its worker.

    forkserver with the extractor preloaded: workers start fast and never inherit the
    threads of Prefect's engine, which plain fork could deadlock on.
    """
    context = multiprocessing.get_context("forkserver")
    # "__main__" too: the server imports the main script once, so each worker does not.
    context.set_forkserver_preload(["__main__", "spacewatch.seeds.tagging"])
    pool = ProcessPool(
        max_workers=workers,
        max_tasks=2000,
        context=context,
        initializer=init_worker,
        initargs=(tagging_paths,),
    )
    try:
        yield pool
    finally:
        pool.close()
        pool.join(timeout=30)
        if pool.active:
            pool.stop()
            pool.join()


@dataclass
class EnrichStats:
    fetched: int = 0
    pages_failed: int = 0
    extracted: int = 0
    fallback: int = 0
    empty: int = 0
    timeouts: int = 0
    extract_s: float = 0.0  # summed over workers
    failures: list[str] = field(default_factory=list)
    process: str = ""  # host:pid that fetched and extracted these pages (flows/runners.py)


def _is_html(result: FetchResult) -> bool:
    content_type = (result.header("content-type") or "text/html").lower()
    return any(kind in content_type for kind in HTML_TYPES)


def _raised(stage: str, exc: BaseException, earlier: str | None = None) -> str:
    """A page's failure reason for an unexpected exception, after any earlier reason."""
    reason = f"raised while {stage} the page: {type(exc).__name__}: {exc}"
    return (f"{earlier}; {reason}" if earlier else reason)[:500]


def build_article(
    group: Sequence[ArticleCandidate],
    result: FetchResult,
    page: extract.PageResult | None,
    *,
    min_words: int,
    site_name: str | None = None,
    tagger: Tagger | None = None,
) -> Article:
    """Merge page extraction with feed metadata; fall back to the feed's own text."""
    first = group[0]
    entry = first.entry
    extracted = page.extracted if page else None
    text, method = None, "none"
    words, digest, sig = 0, None, None
    if page and extracted and extracted.text and page.word_count >= min_words:
        text, method = extracted.text, "trafilatura"
        words, digest, sig = page.word_count, page.content_hash, page.signature
    else:
        for candidate in group:
            text, method = extract.feed_fallback(candidate.entry)
            if text:
                break
        if not text and extracted and extracted.text:
            text, method = extracted.text, "trafilatura"
        words, digest, sig = extract.fingerprint(text)
    error = result.error or (extracted.error if extracted else None)
    title = entry.title or (extracted.title if extracted else None)
    published = entry.published_at or (extracted.published_at if extracted else None)
    tags = page.tags if page and text is not None and extracted and text == extracted.text else None
    if tags is None and text and tagger is not None:
        tags = tagger.tag(text, title=title_unless_repeated(title, text), published=published)
    return Article(
        canonical_url=first.canonical_url,
        url=result.final_url if result.outcome is Outcome.OK else first.url,
        title=title,
        author=(extracted.author if extracted else None) or entry.author,
        published_at=published,
        language=extracted.language if extracted else None,
        site_name=(extracted.site_name if extracted else None) or site_name,
        description=(extracted.description if extracted else None) or None,
        text=text,
        extraction_method=method,
        fetch_outcome=result.outcome.value,
        http_status=result.status,
        fetch_error=error,
        content_hash=digest,
        word_count=words,
        signature=sig,
        sources=tuple(group),
        tags=tags,
    )


async def fetch_and_extract(
    groups: Sequence[Sequence[ArticleCandidate]],
    config: Config,
    pool: ProcessPool,
    site_names: dict[int, str | None] | None = None,
    private_feeds: frozenset[int] | None = None,
) -> tuple[list[Article], EnrichStats]:
    """Fetch pages concurrently and extract them in worker processes as they arrive.

    `private_feeds`: ids of the feeds whose linked pages may reach private addresses
    (`private_feed_ids`, `page_allows_private`); None: `[fetch] allow_private_addresses`
    decides for every page.
    """
    stats = EnrichStats()
    site_names = site_names or {}
    timeout = config.extract.timeout_s
    min_words = config.extract.min_words
    tagger = load_tagger(config.tagging_paths())[0]  # for texts that come from the feed
    # Bounds the pages held in memory between download and extraction.
    in_flight = asyncio.Semaphore(config.fetch.concurrency + 4 * config.extract.workers)

    async def one(group: Sequence[ArticleCandidate], fetcher: Fetcher) -> Article:
        # Whatever goes wrong with one page becomes that page's recorded failure, with the
        # feed's text as fallback: a poison page never fails its chunk, nor the run.
        async with in_flight:
            url = group[0].url
            try:
                result = await fetcher.fetch(
                    url,
                    accept=PAGE_ACCEPT,
                    allow_private=None
                    if private_feeds is None
                    else page_allows_private(group, private_feeds),
                )
            except Exception as exc:  # the fetcher returns network trouble as data: a bug
                result = FetchResult(url, url, Outcome.HARD, error=_raised("fetching", exc))
            page = None
            if result.outcome is Outcome.OK and _is_html(result):
                stats.fetched += 1
                entry = group[0].entry
                future = pool.schedule(
                    work_page,
                    args=(result.body, result.final_url, entry.title, entry.published_at),
                    timeout=timeout,
                )
                try:
                    page = await asyncio.wrap_future(future)
                    stats.extract_s += page.seconds
                except (FutureTimeout, TimeoutError):
                    stats.timeouts += 1
                    result = replace(result, error=f"extraction exceeded {timeout:g} s")
                except ProcessExpired as exc:
                    result = replace(result, error=f"extractor process died: {exc}")
                except Exception as exc:  # raised in the worker, travelled back by pebble
                    result = replace(result, error=_raised("extracting", exc, result.error))
            elif result.outcome is Outcome.OK:
                stats.fetched += 1
                result = replace(
                    result, error=f"not an HTML page ({result.header('content-type')})"
                )
            else:
                stats.pages_failed += 1
            result = replace(result, body=b"")  # the page is no longer needed
            site_name = site_names.get(group[0].feed_id)
            try:
                article = build_article(
                    group, result, page, min_words=min_words, site_name=site_name, tagger=tagger
                )
            except Exception as exc:  # tagging the text, most likely
                result = replace(result, error=_raised("tagging", exc, result.error))
                article = build_article(
                    group, result, None, min_words=min_words, site_name=site_name
                )
            if result.error and "raised while" in result.error:
                stats.failures.append(f"{url}: {result.error}")
            if article.extraction_method == "trafilatura":
                stats.extracted += 1
            elif article.extraction_method == "none":
                stats.empty += 1
            else:
                stats.fallback += 1
            return article

    async with Fetcher(config.fetch_policy) as fetcher:
        results = await asyncio.gather(*(one(g, fetcher) for g in groups))
    return list(results), stats
