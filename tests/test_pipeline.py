"""The pipeline end to end through Prefect, on the bundled sample served over loopback."""

from __future__ import annotations

import tomllib
from pathlib import Path

import duckdb
import pytest

from helpers import query, sample_feeds, write_config
from spacewatch.config import load_config
from spacewatch.extractors.urls import canonical_url
from spacewatch.flows import pipeline
from spacewatch.loopback import SAMPLE_DIR, LoopbackServer, Route, static_route
from spacewatch.warehouse.connect import open_for_writing

pytestmark = pytest.mark.usefixtures("prefect_harness")

MANIFEST = tomllib.loads((SAMPLE_DIR / "manifest.toml").read_text("utf-8"))
STABLE_TABLES = ("articles", "article_sources", "article_fingerprints", "article_bands")


def snapshot(path: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in STABLE_TABLES
        }
    finally:
        con.close()




def test_sample_end_to_end_and_second_run_unchanged(
    tmp_path: Path, sample_server: LoopbackServer
) -> None:
    config = write_config(tmp_path, sample_feeds(sample_server.base_url))
    wh = tmp_path / "wh.duckdb"

    first = pipeline.run_pipeline(config)

    pages = [p for p in MANIFEST["pages"] if (SAMPLE_DIR / p["path"]).exists()]
    assert first.feeds_polled == 4 and first.feeds_failed == 0
    assert first.entries_seen == sum(f["expected_entries"] for f in MANIFEST["feeds"])
    # Every page plus the withdrawn story (feed summary only); the reprint with tracking
    # parameters is the same article as the original.
    assert first.articles_new == len(pages) + 1
    assert first.pages_failed == 1
    assert first.articles_fallback == 1

    # Extracted text keeps the article and drops the boilerplate around it.
    for page in pages:
        url = canonical_url(f"{sample_server.base_url}/{page['path']}")
        rows = query(
            wh, "SELECT text, extraction_method FROM articles WHERE canonical_url = ?", [url]
        )
        assert rows, f"{page['path']} not stored"
        text, method = rows[0]
        assert method == "trafilatura", page["path"]
        for fragment in page["must_contain"]:
            assert fragment in text, (page["path"], fragment)
        for fragment in page["must_not_contain"]:
            assert fragment not in text, (page["path"], fragment)

    # Syndicated copies of one wire story share a story_id; other stories have their own.
    stories = {}
    for page in pages:
        if "story" in page:
            url = canonical_url(f"{sample_server.base_url}/{page['path']}")
            stories[page["path"]] = query(
                wh, "SELECT story_id FROM articles WHERE canonical_url = ?", [url]
            )[0][0]
    assert len(stories) == 3 and len(set(stories.values())) == 1
    assert first.syndicated_copies == 2
    assert (
        query(wh, "SELECT count(DISTINCT story_id) FROM articles")[0][0] == first.articles_new - 2
    )

    # The same article linked with tracking parameters from a second feed: one article, two sources.
    multi = query(
        wh,
        """SELECT a.canonical_url, count(*) FROM article_sources s JOIN articles a USING (article_id)
           GROUP BY 1 HAVING count(*) > 1""",
    )
    assert len(multi) == 1 and multi[0][1] == 2
    assert "utm_" not in multi[0][0]

    # The withdrawn page falls back to the feed's summary, and says so.
    fallback = query(
        wh,
        "SELECT extraction_method, http_status, fetch_error FROM articles WHERE url LIKE '%withdrawn-story%'",
    )
    assert fallback == [("feed_summary", 404, "HTTP 404 Not Found")]

    # The malformed feed is data: entries kept, bozo reason recorded.
    bozo = query(
        wh,
        "SELECT p.entries, p.bozo_reason FROM feed_polls p JOIN feeds f USING (feed_id) WHERE f.url LIKE '%frontier-wire%'",
    )
    assert bozo[0][0] == 5 and bozo[0][1]
    # Latin-1 feed decoded properly.
    assert query(wh, "SELECT count(*) FROM articles WHERE title LIKE '%Orléans%'")[0][0] == 1

    before = snapshot(wh)
    second = pipeline.run_pipeline(config)
    assert second.feeds_not_modified == 4
    assert second.articles_new == 0 and second.entries_new == 0
    assert snapshot(wh) == before
    runs = query(wh, "SELECT status, articles_new, feeds_not_modified FROM runs ORDER BY run_id")
    assert runs == [("completed", first.articles_new, 0), ("completed", 0, 4)]
    assert query(wh, "SELECT count(*), count(DISTINCT run_id) FROM feed_polls") == [(8, 2)]
    # Pages were fetched exactly once across both runs.
    for page in pages:
        assert sample_server.count("/" + page["path"]) == 1, page["path"]


def test_server_ignoring_validators_is_skipped_by_body_hash(tmp_path: Path) -> None:
    body = (SAMPLE_DIR / "feeds" / "capital-space.rss").read_bytes()
    with LoopbackServer() as server:
        server.set(
            "/feed.xml",
            Route(
                body=body.replace(b"{{BASE}}", server.base_url.encode()),
                content_type="application/rss+xml",
            ),
        )
        config = write_config(tmp_path, [(server.url("/feed.xml"), None)])
        first = pipeline.run_pipeline(config)
        second = pipeline.run_pipeline(config)
    assert first.feeds_ok == 1 and first.articles_new >= 1
    assert second.feeds_unchanged == 1 and second.entries_seen == 0 and second.articles_new == 0


def test_failures_back_off_and_permanent_redirect_moves_feed(tmp_path: Path) -> None:
    feed = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Moved</title>
<item><title>One</title><guid>one</guid><description>First entry of a moved feed.</description></item>
</channel></rss>"""
    with LoopbackServer() as server:
        server.set("/old.xml", Route(status=301, headers=(("Location", "/new.xml"),)))
        server.set("/new.xml", static_route(feed, "application/rss+xml"))
        server.set("/busy.xml", Route(status=429, headers=(("Retry-After", "3600"),)))
        config = write_config(
            tmp_path,
            [(server.url("/old.xml"), "moved"), (server.url("/busy.xml"), "busy")],
        )
        wh = tmp_path / "wh.duckdb"
        first = pipeline.run_pipeline(config)
        assert first.feeds_failed == 1
        assert query(wh, "SELECT url FROM feeds WHERE name = 'moved'")[0][0].endswith("/old.xml")
        busy = query(
            wh,
            "SELECT consecutive_failures, next_due_at > now() + INTERVAL 50 MINUTE, last_outcome FROM feeds WHERE name = 'busy'",
        )
        assert busy == [(1, True, "temporary_failure")]

        second = pipeline.run_pipeline(config)
        assert second.feeds_skipped == 1  # the 429 feed is backed off
        assert server.count("/busy.xml") == 1
        # Seen twice in a row, the permanent redirect now moves the stored URL.
        assert query(wh, "SELECT url, configured_url FROM feeds WHERE name = 'moved'")[0][
            0
        ].endswith("/new.xml")
        server.requests.clear()
        pipeline.run_pipeline(config)
        assert server.count("/old.xml") == 0 and server.count("/new.xml") == 1


def test_second_writer_is_refused_while_a_run_holds_the_warehouse(
    tmp_path: Path, sample_server: LoopbackServer
) -> None:
    from spacewatch.warehouse.connect import WarehouseBusy, writer_lock

    config = write_config(tmp_path, sample_feeds(sample_server.base_url))
    path = load_config(config).warehouse_path
    open_for_writing(path).close()
    with writer_lock(path), pytest.raises(WarehouseBusy, match="another Spacewatch run"):
        pipeline.run_pipeline(config)
    assert query(path, "SELECT count(*) FROM runs") == [(0,)]


def test_extraction_time_limit_falls_back_to_feed_text(tmp_path: Path) -> None:
    # A large page and a tiny limit: the worker is killed, the article keeps the feed's text.
    page = b"<html><body><article>" + b"<p>Lunar station words and more words.</p>" * 40000 + b"</article></body></html>"
    with LoopbackServer() as server:
        feed = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Slow</title>
<item><title>Heavy page</title><link>{server.base_url}/heavy.html</link><guid>heavy</guid>
<description>The summary the pipeline keeps when extraction takes too long.</description></item>
</channel></rss>""".encode()
        server.set("/feed.xml", static_route(feed, "application/rss+xml"))
        server.set("/heavy.html", static_route(page, "text/html"))
        config = write_config(tmp_path, [(server.url("/feed.xml"), None)], extract="timeout_s = 0.05\nmin_words = 5")
        summary = pipeline.run_pipeline(config)
    assert summary.articles_new == 1 and summary.articles_fallback == 1
    rows = query(tmp_path / "wh.duckdb", "SELECT extraction_method, text, fetch_error FROM articles")
    assert rows == [("feed_summary", "The summary the pipeline keeps when extraction takes too long.", "extraction exceeded 0.05 s")]


def test_a_run_that_dies_midway_loses_no_entries(tmp_path: Path, sample_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from spacewatch.flows import steps

    config = write_config(tmp_path, sample_feeds(sample_server.base_url), extract="chunk_size = 5")
    wh = tmp_path / "wh.duckdb"
    real = steps.fetch_and_extract
    calls = {"n": 0}

    async def dies_on_third_chunk(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= 3:
            raise OSError("disk on fire")
        return await real(*args, **kwargs)

    monkeypatch.setattr(steps, "fetch_and_extract", dies_on_third_chunk)
    with pytest.raises(OSError, match="disk on fire"):
        pipeline.run_pipeline(config)
    partial = query(wh, "SELECT count(*) FROM articles")[0][0]
    assert 0 < partial < 20
    assert query(wh, "SELECT status, error FROM runs") == [("failed", "OSError: disk on fire")]
    # Validators did not move: the next run gets the feeds again, not 304s, and completes.
    assert query(wh, "SELECT count(*) FROM feeds WHERE etag IS NOT NULL OR body_hash IS NOT NULL") == [(0,)]

    monkeypatch.setattr(steps, "fetch_and_extract", real)
    summary = pipeline.run_pipeline(config)
    assert summary.feeds_ok == 4
    assert query(wh, "SELECT count(*) FROM articles")[0][0] == 20
    assert summary.articles_new == 20 - partial


def test_run_summary_is_published_as_an_artifact(tmp_path: Path, sample_server: LoopbackServer) -> None:
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    config = write_config(tmp_path, sample_feeds(sample_server.base_url))
    summary = pipeline.run_pipeline(config)

    async def latest() -> str:
        async with get_client() as client:
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["spacewatch-run-summary"]))
            )
            return sorted(artifacts, key=lambda a: a.created)[-1].data

    data = asyncio.run(latest())
    assert f"Spacewatch run {summary.run_id}" in data
    assert f"articles: {summary.articles_new} new" in data
