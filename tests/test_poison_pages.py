"""One bad page is that page's failure, never its chunk's or the run's."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import POISON, poisoned_work_page, query, sample_feeds, write_config
from spacewatch.extractors.urls import canonical_url
from spacewatch.flows import pipeline, steps
from spacewatch.loopback import LoopbackServer, Route

pytestmark = pytest.mark.usefixtures("prefect_harness")

POISONED = "pages/orbital-desk/rogozin-lunar-station.html"


def test_a_page_that_makes_the_extractor_raise_keeps_its_feed_text(
    tmp_path: Path, sample_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    route = sample_server.routes[f"/{POISONED}"]
    sample_server.set(
        f"/{POISONED}",
        Route(
            route.body + POISON,
            content_type=route.content_type,
            etag=route.etag,
            last_modified=route.last_modified,
        ),
    )
    monkeypatch.setattr(steps, "work_page", poisoned_work_page)
    config = write_config(tmp_path, sample_feeds(sample_server.base_url), extract="chunk_size = 5")
    wh = tmp_path / "wh.duckdb"

    first = pipeline.run_pipeline(config)

    # Every other article is stored as usual, and the run completed.
    assert first.articles_new == 20 and first.feeds_ok == 4
    assert query(wh, "SELECT status FROM runs") == [("completed",)]
    assert (
        query(wh, "SELECT count(*) FROM articles WHERE extraction_method = 'trafilatura'")[0][0]
        == 18
    )
    # The poisoned page: the feed's own text, and the reason.
    url = canonical_url(f"{sample_server.base_url}/{POISONED}")
    rows = query(
        wh,
        "SELECT extraction_method, text IS NOT NULL, http_status, fetch_error FROM articles WHERE canonical_url = ?",
        [url],
    )
    assert rows == [
        (
            "feed_summary",
            True,
            200,
            "raised while extracting the page: RuntimeError: extractor choked on this page",
        )
    ]
    # The feeds' validators moved: the next run gets 304s and fetches nothing again.
    assert query(wh, "SELECT count(*) FROM feeds WHERE etag IS NULL AND body_hash IS NULL") == [
        (0,)
    ]
    sample_server.requests.clear()
    second = pipeline.run_pipeline(config)
    assert second.feeds_not_modified == 4 and second.articles_new == 0
    assert [r.route_path for r in sample_server.requests if "/pages/" in r.route_path] == []


class ChokingTagger:
    """The real tagger, except on texts with the marker (a tagger bug one text triggers)."""

    def __init__(self, real: object) -> None:
        self.real = real

    def tag(self, text: str, **kwargs: object) -> object:
        if "TAGGER-POISON" in text:
            raise ValueError("tagger choked on this text")
        return self.real.tag(text, **kwargs)  # type: ignore[attr-defined]


def test_pages_whose_fetch_or_tagging_raises_are_stored_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_loader, real_fetcher = steps.load_tagger, steps.Fetcher

    def choking_loader(paths: object) -> tuple:
        tagger, registry, version = real_loader(paths)  # type: ignore[arg-type]
        return ChokingTagger(tagger), registry, version

    class FetcherWithABug(real_fetcher):  # type: ignore[misc, valid-type]
        async def fetch(self, url: str, **kwargs: object):  # type: ignore[no-untyped-def]
            if "fetch-bug" in url:
                raise KeyError("a bug in the fetcher")
            return await super().fetch(url, **kwargs)

    monkeypatch.setattr(steps, "load_tagger", choking_loader)
    monkeypatch.setattr(steps, "Fetcher", FetcherWithABug)
    with LoopbackServer() as server:
        items = [
            ("Withdrawn", "/gone.html", "TAGGER-POISON in the summary of a page that is gone."),
            ("Bug", "/fetch-bug.html", "The summary of a page the fetcher trips on."),
            ("Fine", "/gone-too.html", "An ordinary summary of a page that is gone."),
        ]
        body = "".join(
            f"<item><title>{t}</title><link>{server.base_url}{p}</link><guid>{p}</guid><description>{d}</description></item>"
            for t, p, d in items
        )
        server.set(
            "/feed.xml",
            Route(
                f"<rss version='2.0'><channel><title>F</title>{body}</channel></rss>".encode(),
                content_type="application/rss+xml",
                etag='"v1"',
            ),
        )
        config = write_config(tmp_path, [(server.url("/feed.xml"), None)])
        summary = pipeline.run_pipeline(config)
        assert server.count("/fetch-bug.html") == 0

    assert summary.articles_new == 3 and summary.feeds_ok == 1
    wh = tmp_path / "wh.duckdb"
    rows = dict(
        (r[0], r[1:])
        for r in query(wh, "SELECT title, extraction_method, text, fetch_error FROM articles")
    )
    assert rows["Withdrawn"] == (
        "feed_summary",
        "TAGGER-POISON in the summary of a page that is gone.",
        "HTTP 404 Not Found; raised while tagging the page: ValueError: tagger choked on this text",
    )
    assert rows["Bug"] == (
        "feed_summary",
        "The summary of a page the fetcher trips on.",
        "raised while fetching the page: KeyError: 'a bug in the fetcher'",
    )
    assert rows["Fine"] == (
        "feed_summary",
        "An ordinary summary of a page that is gone.",
        "HTTP 404 Not Found",
    )
    assert query(wh, "SELECT status FROM runs") == [("completed",)]
    assert query(wh, "SELECT etag FROM feeds") == [('"v1"',)]


def test_a_feed_whose_parsing_raises_is_that_feeds_failed_poll(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from spacewatch.config import load_config
    from spacewatch.extractors.models import FeedState

    real_parse = steps.parse_feed

    def parse_with_a_bug(body: bytes, headers: dict, url: str):  # type: ignore[no-untyped-def]
        if "bad" in url:
            raise IndexError("a bug in the parser")
        return real_parse(body, headers, url)

    monkeypatch.setattr(steps, "parse_feed", parse_with_a_bug)
    rss = b"<rss version='2.0'><channel><title>T</title><item><title>A</title><link>http://a.example/1</link></item></channel></rss>"
    with LoopbackServer() as server:
        server.set("/bad.xml", Route(rss, content_type="application/rss+xml", etag='"b"'))
        server.set("/good.xml", Route(rss, content_type="application/rss+xml", etag='"g"'))
        urls = [server.url("/bad.xml"), server.url("/good.xml")]
        config = load_config(write_config(tmp_path, [(u, None) for u in urls]))
        feeds = [
            FeedState(i, u, u, None, None, None, None, 0, None, None, 0) for i, u in enumerate(urls)
        ]
        bad, good = steps.poll_feeds(feeds, config, datetime.now(UTC))
    assert bad.parsed is None and not bad.update.success
    assert bad.update.outcome == "hard_failure" and bad.update.consecutive_failures == 1
    assert bad.update.error == "raised while parsing the feed: IndexError: a bug in the parser"
    assert bad.update.etag is None  # the validators stay: the body is read again next time
    assert good.update.success and good.parsed is not None and good.update.etag == '"g"'
