"""`[runner] kind = "dask"`: the same warehouse as the local runner, extracted in Dask workers."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import duckdb
import pytest

from helpers import query, sample_feeds, write_config
from spacewatch.config import ConfigError, parse_config
from spacewatch.flows import pipeline
from spacewatch.loopback import LoopbackServer, static_route

# Small chunks, so the sample makes several fetch-extract tasks and both Dask workers get one.
CHUNKS = "chunk_size = 4\n"


def contents(path: Path) -> dict[str, object]:
    """Everything a run stores about articles, keyed by canonical URL (ids and times vary)."""
    con = duckdb.connect(str(path), read_only=True)
    try:

        def rows(sql: str) -> list[tuple]:
            return sorted(con.execute(sql).fetchall(), key=repr)

        stories = con.execute(
            "SELECT list(canonical_url ORDER BY canonical_url) FROM articles GROUP BY story_id"
        ).fetchall()
        return {
            "articles": rows(
                "SELECT canonical_url, url, title, author, published_at, language, site_name, "
                "description, md5(text), extraction_method, fetch_outcome, http_status, "
                "fetch_error, content_hash, word_count FROM articles"
            ),
            "stories": sorted(tuple(s[0]) for s in stories),
            "sources": rows(
                "SELECT f.configured_url, s.guid, a.canonical_url, s.link, s.entry_title, "
                "s.entry_published_at FROM article_sources s JOIN articles a USING (article_id) "
                "JOIN feeds f USING (feed_id)"
            ),
            "fingerprints": rows(
                "SELECT a.canonical_url, f.signature FROM article_fingerprints f "
                "JOIN articles a USING (article_id)"
            ),
            "tags": rows(
                "SELECT a.canonical_url, t.tagger_version, t.language, t.themes_judged, "
                "t.relevant, t.relevance, t.seed_similarity_max, t.truncated "
                "FROM article_tags t JOIN articles a USING (article_id)"
            ),
            "themes": rows(
                "SELECT a.canonical_url, t.theme_id, t.score, t.evidence "
                "FROM article_themes t JOIN articles a USING (article_id)"
            ),
            "actors": rows(
                "SELECT a.canonical_url, t.actor_id, t.mentions, t.evidence, t.via "
                "FROM article_actors t JOIN articles a USING (article_id)"
            ),
        }
    finally:
        con.close()


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_dask_runner_stores_what_the_local_runner_stores(
    tmp_path: Path, sample_server: LoopbackServer
) -> None:
    feeds = sample_feeds(sample_server.base_url)
    local_dir, dask_dir = tmp_path / "local", tmp_path / "dask"
    local_dir.mkdir()
    dask_dir.mkdir()
    local_config = write_config(local_dir, feeds, extract=CHUNKS)
    dask_config = write_config(
        dask_dir,
        feeds,
        extract=CHUNKS,
        runner='kind = "dask"\ndask_workers = 2\n',
    )

    local = pipeline.run_pipeline(local_config)
    remote = pipeline.run_pipeline(dask_config)

    assert local.articles_new > 8 and local.failures == []

    def counts(summary: pipeline.RunSummary) -> dict:
        return {k: v for k, v in summary.counters().items() if not k.endswith("_s")}

    assert counts(remote) == counts(local)
    assert contents(dask_dir / "wh.duckdb") == contents(local_dir / "wh.duckdb")

    # Locally the chunks are fetched in the flow's process (its pool extracts them); with
    # Dask, in the two worker processes of the temporary cluster, never in the flow's.
    here = f"{socket.gethostname()}:{os.getpid()}"
    assert local.extract_processes == [here]
    assert len(remote.extract_processes) == 2
    assert here not in remote.extract_processes
    assert all(p.startswith(f"{socket.gethostname()}:") for p in remote.extract_processes)


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_time_limit_holds_on_a_dask_worker(tmp_path: Path) -> None:
    # trafilatura has no timeout: the worker's own pool kills the extraction, and the article
    # keeps the feed's text, as with the local runner (test_pipeline.py).
    page = (
        b"<html><body><article>"
        + b"<p>Lunar station words and more words.</p>" * 40000
        + b"</article></body></html>"
    )
    with LoopbackServer() as server:
        feed = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Slow</title>
<item><title>Heavy page</title><link>{server.base_url}/heavy.html</link><guid>heavy</guid>
<description>The summary the pipeline keeps when extraction takes too long.</description></item>
</channel></rss>""".encode()
        server.set("/feed.xml", static_route(feed, "application/rss+xml"))
        server.set("/heavy.html", static_route(page, "text/html"))
        config = write_config(
            tmp_path,
            [(server.url("/feed.xml"), None)],
            extract="timeout_s = 0.05\nmin_words = 5",
            runner='kind = "dask"\ndask_workers = 1\n',
        )
        summary = pipeline.run_pipeline(config)
    assert summary.articles_new == 1 and summary.articles_fallback == 1
    assert f"{socket.gethostname()}:{os.getpid()}" not in summary.extract_processes
    rows = query(
        tmp_path / "wh.duckdb", "SELECT extraction_method, text, fetch_error FROM articles"
    )
    assert rows == [
        (
            "feed_summary",
            "The summary the pipeline keeps when extraction takes too long.",
            "extraction exceeded 0.05 s",
        )
    ]


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_unreachable_scheduler_fails_the_run_with_one_line(
    tmp_path: Path, sample_server: LoopbackServer
) -> None:
    import dask

    with socket.socket() as probe:  # a loopback port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    config = write_config(
        tmp_path,
        sample_feeds(sample_server.base_url),
        runner=f'kind = "dask"\ndask_address = "{address}"\n',
    )
    # distributed's own connect timeout is 30 s; the message is the same after 2.
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "2s"}),
        pytest.raises(ConfigError) as caught,
    ):
        pipeline.run_pipeline(config)
    assert str(caught.value).startswith(
        f"{config}: [runner] dask_address: cannot reach the Dask scheduler {address}: "
    )
    assert "\n" not in str(caught.value)
    # The run is recorded as failed and stored nothing, so the next run sees the same entries.
    wh = tmp_path / "wh.duckdb"
    assert query(wh, "SELECT status FROM runs") == [("failed",)]
    assert query(wh, "SELECT count(*) FROM articles") == [(0,)]


def test_dask_runner_without_the_extra_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An entry of None in sys.modules is how Python itself marks a module as unavailable.
    monkeypatch.setitem(sys.modules, "prefect_dask", None)
    source = tmp_path / "spacewatch.toml"
    with pytest.raises(ConfigError) as caught:
        parse_config('[runner]\nkind = "dask"\n', source)
    message = str(caught.value)
    assert message == (
        f"{source}: [runner] kind: 'dask' needs the Dask extra: pip install \"spacewatch[dask]\""
    )
    assert "\n" not in message
    # The local runner does not need it.
    assert parse_config('[runner]\nkind = "local"\n', source).runner.kind == "local"
