"""The DuckDB warehouse: migrations, locking, and every store function, on real files."""

from __future__ import annotations

import os
import random
import string
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from spacewatch.extractors import dedupe
from spacewatch.extractors.models import (
    Article,
    FeedEntry,
    FeedState,
    FeedUpdate,
    FetchResult,
    Outcome,
    ParsedFeed,
    SourceLink,
)
from spacewatch.warehouse import migrate as migrate_mod
from spacewatch.warehouse import store
from spacewatch.warehouse.connect import (
    WarehouseBusy,
    WarehouseError,
    connect,
    lock_path,
    open_for_writing,
    writer_lock,
)
from spacewatch.warehouse.migrate import Migration, SchemaError, migrate, schema_version

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CORE_TABLES = {
    "feeds",
    "feed_polls",
    "articles",
    "article_sources",
    "article_fingerprints",
    "article_bands",
    "runs",
}
ARTICLE_TABLES = ("articles", "article_sources", "article_fingerprints", "article_bands")


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "wh" / "spacewatch.duckdb"


@pytest.fixture
def con(db_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = open_for_writing(db_path)
    yield connection
    connection.close()


def tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in ARTICLE_TABLES}


@contextmanager
def holder(script: str, *args: str, cwd: Path) -> Iterator[subprocess.Popen[str]]:
    """Run `script` in another Python process until it prints "ready"; release it on exit.

    The script must wait for a line on stdin before letting go of what it holds.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"holder process did not start: {line!r}\n{err}")
        yield proc
    finally:
        release(proc)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def release(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is not None or proc.stdin is None or proc.stdin.closed:
        return
    try:
        proc.stdin.write("\n")
        proc.stdin.flush()
    except (BrokenPipeError, ValueError):
        pass


LOCK_HOLDER = """
import sys
from pathlib import Path
from spacewatch.warehouse.connect import writer_lock
with writer_lock(Path(sys.argv[1])):
    print("ready", flush=True)
    sys.stdin.readline()
"""

WRITER_HOLDER = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from spacewatch.warehouse import store
from spacewatch.warehouse.connect import open_for_writing
con = open_for_writing(Path(sys.argv[1]))
store.sync_feeds(con, [("https://held.example/feed", "Held")], datetime(2024, 1, 1, tzinfo=UTC))
print("ready", flush=True)
sys.stdin.readline()
con.close()
"""


def sentences(seed: int, count: int = 50, size: int = 10) -> list[str]:
    """Deterministic pseudo-English: `count` sentences of `size` made-up words."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(3000)]
    return [" ".join(rng.choices(vocab, k=size)).capitalize() + "." for _ in range(count)]


def with_sentence_changed(parts: list[str], index: int, seed: int) -> str:
    changed = list(parts)
    changed[index] = sentences(seed, count=1)[0]
    return " ".join(changed)


def make_article(url: str, text: str | None, **overrides: Any) -> Article:
    fields: dict[str, Any] = {
        "canonical_url": url,
        "url": url,
        "title": f"Title of {url}",
        "author": None,
        "published_at": NOW - timedelta(hours=1),
        "language": "en",
        "site_name": None,
        "description": None,
        "text": text,
        "extraction_method": "trafilatura" if text else "none",
        "fetch_outcome": "ok",
        "http_status": 200,
        "fetch_error": None,
        "content_hash": dedupe.content_hash(text) if text else None,
        "word_count": len(dedupe.words(text)) if text else 0,
        "signature": dedupe.signature(text) if text else None,
    }
    fields.update(overrides)
    return Article(**fields)


def link(feed_id: int, guid: str, url: str) -> SourceLink:
    return SourceLink(feed_id, guid, url, url + "?utm_source=rss", f"entry {guid}", NOW)


def article_rows(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    """canonical_url -> (article_id, story_id)."""
    rows = con.execute("SELECT canonical_url, article_id, story_id FROM articles").fetchall()
    return {u: (a, s) for u, a, s in rows}


def make_update(feed: FeedState, polled_at: datetime, **overrides: Any) -> FeedUpdate:
    fields: dict[str, Any] = {
        "feed_id": feed.feed_id,
        "polled_at": polled_at,
        "url": feed.url,
        "new_url": feed.url,
        "final_url": feed.url,
        "outcome": "ok",
        "unchanged": False,
        "http_status": 200,
        "duration_ms": 120,
        "bytes": 5000,
        "entries": 10,
        "new_entries": 3,
        "error": None,
        "bozo_reason": None,
        "retry_after_s": None,
        "etag": '"v1"',
        "last_modified": "Wed, 01 May 2024 11:00:00 GMT",
        "body_hash": "body-1",
        "consecutive_failures": 0,
        "next_due_at": polled_at + timedelta(minutes=30),
        "success": True,
        "pending_redirect_url": None,
        "pending_redirect_count": 0,
        "title": "Feed Title",
        "site_url": "https://site.example/",
    }
    fields.update(overrides)
    return FeedUpdate(**fields)


def feed_row(con: duckdb.DuckDBPyConnection, feed_id: int) -> dict[str, Any]:
    cur = con.execute("SELECT * FROM feeds WHERE feed_id = ?", [feed_id])
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


# --- migrations ------------------------------------------------------------------------------


def test_migrations_on_an_empty_file(db_path: Path) -> None:
    assert not db_path.parent.exists()
    con = connect(db_path)
    try:
        assert schema_version(con) == 0
        everything = migrate_mod.load_migrations()
        assert migrate(con, str(db_path)) == [m.version for m in everything]
        assert schema_version(con) == len(everything)
        assert CORE_TABLES | {"schema_migrations"} <= tables(con)
        rows = con.execute(
            "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version"
        )
        (version, name, checksum, applied_at), *_ = rows.fetchall()
        core = everything[0]
        assert (version, name, checksum) == (1, "core", core.checksum)
        assert len(checksum) == 16
        assert applied_at.tzinfo is not None
        # A second run in a row applies nothing and records nothing.
        assert migrate(con, str(db_path)) == []
        assert con.execute("SELECT count(*) FROM schema_migrations").fetchone() == (len(everything),)
    finally:
        con.close()


def test_open_for_writing_migrates_once_across_reopens(db_path: Path) -> None:
    first = open_for_writing(db_path)
    applied_at = first.execute("SELECT applied_at FROM schema_migrations").fetchall()
    first.close()
    second = open_for_writing(db_path)
    try:
        assert second.execute("SELECT applied_at FROM schema_migrations").fetchall() == applied_at
        assert schema_version(second) == len(migrate_mod.load_migrations())
    finally:
        second.close()


def test_schema_newer_than_the_code_is_refused(db_path: Path) -> None:
    con = open_for_writing(db_path)
    con.execute("INSERT INTO schema_migrations VALUES (999, 'from_the_future', 'abc', ?)", [NOW])
    con.close()
    with pytest.raises(SchemaError) as info:
        open_for_writing(db_path)
    message = str(info.value)
    assert str(db_path) in message
    assert "999" in message and "newer" in message and "upgrade" in message
    # The failed open closed its connection: the file can be opened again.
    again = connect(db_path)
    try:
        assert schema_version(again) == 999
        with pytest.raises(SchemaError, match="newer"):
            migrate(again, str(db_path))
    finally:
        again.close()


def test_tampered_checksum_is_refused(db_path: Path) -> None:
    con = open_for_writing(db_path)
    con.execute("UPDATE schema_migrations SET checksum = 'deadbeefdeadbeef' WHERE version = 1")
    con.close()
    with pytest.raises(SchemaError) as info:
        open_for_writing(db_path)
    message = str(info.value)
    assert str(db_path) in message
    assert "0001_core" in message and "never be edited" in message


def test_each_migration_runs_in_its_own_transaction(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = migrate_mod.load_migrations()[0]
    bad = Migration(
        2,
        "bad",
        "CREATE TABLE partial_effect (a INTEGER);\n"
        "INSERT INTO partial_effect VALUES (1);\n"
        "ALTER TABLE feeds ADD COLUMN half_done VARCHAR;\n"
        "SELECT * FROM no_such_table;\n",
    )
    monkeypatch.setattr(migrate_mod, "load_migrations", lambda: (core, bad))
    con = connect(db_path)
    try:
        with pytest.raises(SchemaError) as info:
            migrate(con, str(db_path))
        message = str(info.value)
        assert str(db_path) in message and "0002_bad failed" in message
        assert "no_such_table" in message
        # The first migration committed; nothing of the second survived.
        assert con.execute("SELECT version FROM schema_migrations").fetchall() == [(1,)]
        assert "feeds" in tables(con)
        assert "partial_effect" not in tables(con)
        columns = {c[0] for c in con.execute("DESCRIBE feeds").fetchall()}
        assert "half_done" not in columns
        # The connection is usable again (no aborted transaction left behind).
        assert con.execute("SELECT count(*) FROM feeds").fetchone() == (0,)
    finally:
        con.close()

    # Fixed, the second migration applies on the next open, alone.
    good = Migration(2, "good", "CREATE TABLE partial_effect (a INTEGER);")
    monkeypatch.setattr(migrate_mod, "load_migrations", lambda: (core, good))
    con = connect(db_path)
    try:
        assert migrate(con, str(db_path)) == [2]
        assert schema_version(con) == 2
        assert "partial_effect" in tables(con)
    finally:
        con.close()


def test_read_only_connect_of_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.duckdb"
    with pytest.raises(WarehouseError, match="not found"):
        connect(missing, read_only=True)
    assert not missing.exists()


# --- locking ---------------------------------------------------------------------------------


def test_writer_lock_held_by_another_process(db_path: Path, tmp_path: Path) -> None:
    with holder(LOCK_HOLDER, str(db_path), cwd=tmp_path) as proc:
        with pytest.raises(WarehouseBusy) as info, writer_lock(db_path):
            pytest.fail("the lock was granted twice")
        message = str(info.value)
        assert str(db_path) in message
        assert f'"pid": {proc.pid}' in message
        assert "another Spacewatch run" in message
    # Released when the holder ends: this process takes it and records its own pid.
    with writer_lock(db_path):
        assert f'"pid": {os.getpid()}' in lock_path(db_path).read_text()


def test_a_short_hold_of_the_writer_is_waited_out_even_without_wait(
    db_path: Path, tmp_path: Path
) -> None:
    """Deliveries hold the writer for milliseconds to record each outcome; a run started at
    that moment must not call the warehouse busy."""
    with holder(LOCK_HOLDER, str(db_path), cwd=tmp_path) as proc:
        timer = threading.Timer(0.5, release, [proc])
        timer.start()
        try:
            with writer_lock(db_path, wait_s=0):
                assert f'"pid": {os.getpid()}' in lock_path(db_path).read_text()
        finally:
            timer.cancel()


def test_writer_lock_waits_for_the_holder(db_path: Path, tmp_path: Path) -> None:
    with holder(LOCK_HOLDER, str(db_path), cwd=tmp_path) as proc:
        with pytest.raises(WarehouseBusy), writer_lock(db_path, wait_s=0.3):
            pass
        released = threading.Event()

        def let_go() -> None:
            released.set()
            release(proc)

        timer = threading.Timer(0.6, let_go)
        timer.start()
        try:
            with writer_lock(db_path, wait_s=60):
                # Granted only once the holder let go: ordering, not a clock window.
                assert released.is_set()
                proc.wait(timeout=30)
                assert proc.returncode == 0
        finally:
            timer.cancel()


def test_two_concurrent_writers(db_path: Path, tmp_path: Path) -> None:
    with holder(WRITER_HOLDER, str(db_path), cwd=tmp_path):
        with pytest.raises(WarehouseBusy) as info:
            open_for_writing(db_path)
        message = str(info.value)
        assert str(db_path) in message
        assert "open in another process" in message
        assert "Could not set lock" not in message  # DuckDB's text is replaced
        with pytest.raises(WarehouseBusy):
            connect(db_path, read_only=True)
    con = connect(db_path, read_only=True)
    try:
        assert schema_version(con) == len(migrate_mod.load_migrations())
        assert con.execute("SELECT configured_url, name, active FROM feeds").fetchall() == [
            ("https://held.example/feed", "Held", True)
        ]
    finally:
        con.close()


# --- feeds -----------------------------------------------------------------------------------

A = "https://alpha.example/feed.xml"
B = "https://beta.example/rss"
C = "https://gamma.example/atom"


def test_sync_feeds_inserts_updates_and_deactivates(con: duckdb.DuckDBPyConnection) -> None:
    feeds = store.sync_feeds(con, [(A, "Alpha"), (B, "Beta"), (C, None)], NOW)
    assert [(f.configured_url, f.url, f.name, f.active) for f in feeds] == [
        (A, A, "Alpha", True),
        (B, B, "Beta", True),
        (C, C, None, True),
    ]
    assert all(f.next_due_at == NOW for f in feeds)
    ids = {f.configured_url: f.feed_id for f in feeds}

    later = NOW + timedelta(hours=1)
    feeds = store.sync_feeds(con, [(A, "Alpha renamed"), (C, "Gamma")], later)
    assert [(f.feed_id, f.name) for f in feeds] == [(ids[A], "Alpha renamed"), (ids[C], "Gamma")]
    everything = store.load_feeds(con, active_only=False)
    assert len(everything) == 3  # nothing deleted
    assert {f.configured_url: f.active for f in everything} == {A: True, B: False, C: True}
    assert feed_row(con, ids[A])["created_at"] == NOW  # renaming keeps the row

    # Same configuration again: no change at all.
    before = con.execute("SELECT * FROM feeds ORDER BY feed_id").fetchall()
    store.sync_feeds(con, [(A, "Alpha renamed"), (C, "Gamma")], later + timedelta(hours=1))
    assert con.execute("SELECT * FROM feeds ORDER BY feed_id").fetchall() == before

    # Empty configuration: everything inactive, still nothing deleted.
    assert store.sync_feeds(con, [], later) == []
    assert con.execute("SELECT count(*), count(*) FILTER (active) FROM feeds").fetchone() == (3, 0)


def test_re_added_feed_is_reactivated_with_its_history(con: duckdb.DuckDBPyConnection) -> None:
    run_id = store.start_run(con, NOW, None)
    feeds = store.sync_feeds(con, [(A, "Alpha"), (B, "Beta")], NOW)
    beta = feeds[1]
    store.save_feed_updates(con, run_id, [make_update(beta, NOW, etag='"beta-v1"')])
    store.sync_feeds(con, [(A, "Alpha")], NOW + timedelta(days=1))
    assert [f.configured_url for f in store.load_feeds(con)] == [A]

    feeds = store.sync_feeds(con, [(A, "Alpha"), (B, "Beta again")], NOW + timedelta(days=2))
    assert [f.configured_url for f in feeds] == [A, B]
    back = feeds[1]
    assert back.feed_id == beta.feed_id
    assert (back.name, back.active, back.etag) == ("Beta again", True, '"beta-v1"')
    assert back.last_success_at == NOW
    row = feed_row(con, beta.feed_id)
    assert row["created_at"] == NOW and row["title"] == "Feed Title"
    polls = con.execute("SELECT count(*) FROM feed_polls WHERE feed_id = ?", [beta.feed_id])
    assert polls.fetchone() == (1,)


def test_sync_feeds_same_url_twice_with_different_names(con: duckdb.DuckDBPyConnection) -> None:
    feeds = store.sync_feeds(con, [(A, "Alpha"), (A, "Alpha (dup)")], NOW)
    assert [f.configured_url for f in feeds] == [A]


def test_save_feed_updates_success_then_failure(con: duckdb.DuckDBPyConnection) -> None:
    run_id = store.start_run(con, NOW, "flow-1")
    alpha, beta = store.sync_feeds(con, [(A, "Alpha"), (B, "Beta")], NOW)
    moved = "https://beta.example/new-rss"
    store.save_feed_updates(
        con,
        run_id,
        [
            make_update(alpha, NOW),
            make_update(beta, NOW, new_url=moved, etag=None, last_modified=None, title=None),
        ],
    )
    polls = con.execute(
        "SELECT run_id, feed_id, polled_at, url, outcome, http_status, entries, new_entries "
        "FROM feed_polls ORDER BY feed_id"
    ).fetchall()
    assert polls == [
        (run_id, alpha.feed_id, NOW, A, "ok", 200, 10, 3),
        (run_id, beta.feed_id, NOW, B, "ok", 200, 10, 3),
    ]
    a = feed_row(con, alpha.feed_id)
    assert (a["etag"], a["last_modified"], a["body_hash"]) == (
        '"v1"',
        "Wed, 01 May 2024 11:00:00 GMT",
        "body-1",
    )
    assert (a["last_polled_at"], a["last_success_at"], a["last_outcome"]) == (NOW, NOW, "ok")
    assert (a["title"], a["site_url"]) == ("Feed Title", "https://site.example/")
    assert a["next_due_at"] == NOW + timedelta(minutes=30)
    b = feed_row(con, beta.feed_id)
    assert (b["configured_url"], b["url"], b["etag"], b["title"]) == (B, moved, None, None)

    # A failure: validators, body hash and title are kept; failures and schedule move.
    failed_at = NOW + timedelta(minutes=30)
    store.save_feed_updates(
        con,
        None,
        [
            make_update(
                alpha,
                failed_at,
                outcome="temporary_failure",
                http_status=503,
                entries=None,
                new_entries=None,
                error="HTTP 503",
                retry_after_s=120.0,
                etag=None,
                last_modified=None,
                body_hash=None,
                title=None,
                site_url=None,
                consecutive_failures=1,
                next_due_at=failed_at + timedelta(hours=2),
                success=False,
            )
        ],
    )
    a = feed_row(con, alpha.feed_id)
    assert (a["etag"], a["last_modified"], a["body_hash"]) == (
        '"v1"',
        "Wed, 01 May 2024 11:00:00 GMT",
        "body-1",
    )
    assert a["title"] == "Feed Title"
    assert (a["consecutive_failures"], a["next_due_at"]) == (1, failed_at + timedelta(hours=2))
    assert (a["last_polled_at"], a["last_success_at"]) == (failed_at, NOW)
    assert (a["last_outcome"], a["last_error"]) == ("temporary_failure", "HTTP 503")
    failure = con.execute(
        "SELECT run_id, outcome, http_status, error, retry_after_s, entries FROM feed_polls "
        "WHERE polled_at = ?",
        [failed_at],
    ).fetchall()
    assert failure == [(None, "temporary_failure", 503, "HTTP 503", 120.0, None)]
    assert con.execute("SELECT count(*) FROM feed_polls").fetchone() == (3,)
    # beta was not in this batch and is untouched
    assert feed_row(con, beta.feed_id) == b
    store.save_feed_updates(con, None, [])  # nothing to do
    assert con.execute("SELECT count(*) FROM feed_polls").fetchone() == (3,)


# --- articles --------------------------------------------------------------------------------

U1 = "https://news.example/2024/05/launch"
U2 = "https://other.example/story?p=123"
U3 = "https://third.example/empty"


def test_save_articles_with_sources_and_lookups(con: duckdb.DuckDBPyConnection) -> None:
    run_id = store.start_run(con, NOW, None)
    f1, f2 = (f.feed_id for f in store.sync_feeds(con, [(A, "A"), (B, "B")], NOW))
    long_text = " ".join(sentences(1))
    articles = [
        make_article(U1, long_text),
        make_article(U2, "A short note about the launch."),
        make_article(U3, None, fetch_outcome="hard_failure", http_status=404, fetch_error="404"),
    ]
    links = [link(f1, "g1", U1), link(f2, "g2", U1), link(f1, "g3", U2), link(f1, "g4", U3)]
    stats = store.save_articles(con, run_id, NOW, articles, links)
    assert stats == store.SaveStats(
        articles_new=3, sources_new=4, stories_new=3, syndicated_copies=0
    )
    rows = article_rows(con)
    assert set(rows) == {U1, U2, U3}
    assert all(article_id == story for article_id, story in rows.values())
    stored = con.execute(
        "SELECT text, word_count, content_hash, run_id, first_seen_at, extraction_method "
        "FROM articles WHERE canonical_url = ?",
        [U1],
    ).fetchone()
    assert stored == (long_text, 500, dedupe.content_hash(long_text), run_id, NOW, "trafilatura")
    sources = con.execute(
        "SELECT feed_id, guid, article_id, link, run_id FROM article_sources ORDER BY ALL"
    ).fetchall()
    assert sources == sorted(
        [
            (f1, "g1", rows[U1][0], U1 + "?utm_source=rss", run_id),
            (f2, "g2", rows[U1][0], U1 + "?utm_source=rss", run_id),
            (f1, "g3", rows[U2][0], U2 + "?utm_source=rss", run_id),
            (f1, "g4", rows[U3][0], U3 + "?utm_source=rss", run_id),
        ]
    )
    # Only the long text is fingerprinted (short and empty texts have no bands).
    fingerprints = con.execute("SELECT article_id, signature FROM article_fingerprints")
    assert fingerprints.fetchall() == [(rows[U1][0], dedupe.signature(long_text))]
    bands = con.execute("SELECT band, band_hash FROM article_bands ORDER BY band").fetchall()
    assert bands == list(enumerate(dedupe.band_hashes(dedupe.signature(long_text) or b"")))

    assert store.known_articles(con, [U1, U2, "https://unknown.example/", U1]) == {
        U1: rows[U1][0],
        U2: rows[U2][0],
    }
    assert store.known_articles(con, []) == {}
    assert store.known_sources(con, [(f1, "g1"), (f2, "g1"), (f1, "g4"), (f1, "g1")]) == {
        (f1, "g1"),
        (f1, "g4"),
    }
    assert store.known_sources(con, []) == set()


def test_save_articles_is_idempotent(con: duckdb.DuckDBPyConnection) -> None:
    f1, f2 = (f.feed_id for f in store.sync_feeds(con, [(A, "A"), (B, "B")], NOW))
    base = sentences(7)
    articles = [
        make_article(U1, " ".join(base)),
        make_article(U2, with_sentence_changed(base, 20, seed=99)),
        make_article(U3, "Tiny text."),
    ]
    links = [link(f1, "g1", U1), link(f2, "g2", U2), link(f1, "g3", U3)]
    first = store.save_articles(con, 1, NOW, articles, links)
    assert first == store.SaveStats(3, 3, 2, 1)
    before = snapshot(con)
    assert all(before[t] for t in ARTICLE_TABLES)

    again = store.save_articles(con, 2, NOW + timedelta(hours=1), articles, links)
    assert again == store.SaveStats(0, 0, 0, 0)
    assert snapshot(con) == before
    assert store.save_sources(con, 3, NOW + timedelta(hours=2), links) == 0
    assert snapshot(con) == before


def test_same_canonical_url_twice_in_one_batch(con: duckdb.DuckDBPyConnection) -> None:
    f1, f2 = (f.feed_id for f in store.sync_feeds(con, [(A, "A"), (B, "B")], NOW))
    first_text = " ".join(sentences(3))
    articles = [make_article(U1, first_text), make_article(U1, " ".join(sentences(4)))]
    stats = store.save_articles(con, None, NOW, articles, [link(f1, "x", U1), link(f2, "y", U1)])
    assert (stats.articles_new, stats.sources_new, stats.stories_new) == (1, 2, 1)
    assert con.execute("SELECT text FROM articles").fetchall() == [(first_text,)]
    assert con.execute("SELECT count(DISTINCT article_id) FROM article_sources").fetchone() == (1,)


def test_source_for_an_existing_article_attaches(con: duckdb.DuckDBPyConnection) -> None:
    f1, f2, f3 = (f.feed_id for f in store.sync_feeds(con, [(A, "A"), (B, "B"), (C, "C")], NOW))
    store.save_articles(con, None, NOW, [make_article(U1, "Some words.")], [link(f1, "g1", U1)])
    article_id = article_rows(con)[U1][0]
    later = NOW + timedelta(hours=3)

    # Through save_sources (what the pipeline does for already stored URLs) ...
    added = store.save_sources(con, 5, later, [link(f2, "g2", U1), link(f2, "g9", U2)])
    assert added == 1  # the link to an article not stored is not attached
    # ... and through save_articles with the article already stored.
    stats = store.save_articles(
        con, 6, later, [make_article(U1, "Different words now.")], [link(f3, "g3", U1)]
    )
    assert stats == store.SaveStats(0, 1, 0, 0)
    rows = con.execute(
        "SELECT feed_id, guid, article_id, run_id, first_seen_at FROM article_sources ORDER BY ALL"
    ).fetchall()
    assert rows == [
        (f1, "g1", article_id, None, NOW),
        (f2, "g2", article_id, 5, later),
        (f3, "g3", article_id, 6, later),
    ]
    assert con.execute("SELECT text FROM articles").fetchall() == [("Some words.",)]


def test_near_identical_texts_share_one_story(con: duckdb.DuckDBPyConnection) -> None:
    base = sentences(11)
    texts = {
        "https://a.example/1": " ".join(base),
        "https://b.example/2": with_sentence_changed(base, 10, seed=500),
        "https://c.example/3": with_sentence_changed(base, 35, seed=501),
        "https://d.example/4": " ".join(sentences(12)),  # unrelated
    }
    stats = store.save_articles(con, None, NOW, [make_article(u, t) for u, t in texts.items()], [])
    assert stats == store.SaveStats(4, 0, 2, 2)
    rows = article_rows(con)
    first_id = rows["https://a.example/1"][0]
    assert [rows[u][1] for u in texts] == [
        first_id,
        first_id,
        first_id,
        rows["https://d.example/4"][0],
    ]
    assert rows["https://d.example/4"][0] != first_id


def test_exact_copies_share_a_story(con: duckdb.DuckDBPyConnection) -> None:
    text = " ".join(sentences(21))
    # content_hash ignores case and whitespace
    copy = "  " + text.upper().replace(" ", "\n\t ")
    short = "Launch scrubbed. Next attempt Friday."
    articles = [
        make_article("https://a.example/x", text),
        make_article("https://b.example/x", copy),
        make_article("https://c.example/short", short),
        make_article("https://d.example/short", short.lower()),
    ]
    store.save_articles(con, None, NOW, articles, [])
    rows = article_rows(con)
    assert rows["https://b.example/x"][1] == rows["https://a.example/x"][0]
    assert rows["https://d.example/short"][1] == rows["https://c.example/short"][0]
    # Across batches too, for the short text that has no bands.
    store.save_articles(con, None, NOW, [make_article("https://e.example/short", short)], [])
    assert article_rows(con)["https://e.example/short"][1] == rows["https://c.example/short"][0]


def test_short_texts_never_merge_on_similarity(con: duckdb.DuckDBPyConnection) -> None:
    words = " ".join(sentences(31, count=3, size=10))  # 30 words, below min_words=40
    near = words + " extra"
    assert dedupe.similarity(dedupe.signature(words) or b"", dedupe.signature(near) or b"") > 0.8
    articles = [
        make_article("https://a.example/s", words),
        make_article("https://b.example/s", near),
    ]
    stats = store.save_articles(con, None, NOW, articles, [], min_words=40)
    assert (stats.stories_new, stats.syndicated_copies) == (2, 0)
    assert con.execute("SELECT count(*) FROM article_bands").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM article_fingerprints").fetchone() == (0,)
    # A similar pair with a lower min_words does merge: the threshold kept them apart.
    other = " ".join(sentences(32, count=3, size=10))
    store.save_articles(
        con,
        None,
        NOW,
        [
            make_article("https://c.example/s", other),
            make_article("https://d.example/s", other + " extra"),
        ],
        [],
        min_words=10,
    )
    rows = article_rows(con)
    assert rows["https://d.example/s"][1] == rows["https://c.example/s"][0]


def test_later_batch_copy_joins_the_earlier_story(con: duckdb.DuckDBPyConnection) -> None:
    base = sentences(41)
    store.save_articles(
        con, None, NOW, [make_article("https://a.example/orig", " ".join(base))], []
    )
    original = article_rows(con)["https://a.example/orig"][0]
    stats = store.save_articles(
        con,
        None,
        NOW + timedelta(days=1),
        [
            make_article("https://b.example/copy", with_sentence_changed(base, 5, seed=800)),
            make_article("https://c.example/new", " ".join(sentences(42))),
        ],
        [],
    )
    assert stats == store.SaveStats(2, 0, 1, 1)
    rows = article_rows(con)
    assert rows["https://b.example/copy"][1] == original
    assert rows["https://c.example/new"][1] == rows["https://c.example/new"][0]
    # The copy's bands are stored too, so a third copy finds the story through either.
    third = store.save_articles(
        con,
        None,
        NOW + timedelta(days=2),
        [make_article("https://d.example/copy", with_sentence_changed(base, 45, seed=801))],
        [],
    )
    assert third.syndicated_copies == 1
    assert article_rows(con)["https://d.example/copy"][1] == original
    assert con.execute("SELECT count(DISTINCT article_id) FROM article_bands").fetchone() == (4,)


def test_a_higher_threshold_keeps_copies_apart(con: duckdb.DuckDBPyConnection) -> None:
    base = sentences(51)
    articles = [
        make_article("https://a.example/t", " ".join(base)),
        make_article("https://b.example/t", with_sentence_changed(base, 25, seed=900)),
    ]
    stats = store.save_articles(con, None, NOW, articles, [], threshold=1.0)
    assert (stats.stories_new, stats.syndicated_copies) == (2, 0)


def test_select_new_and_build_article_round_trip(con: duckdb.DuckDBPyConnection) -> None:
    """The pipeline's use of the lookups: stored entries are not selected a second time."""
    from spacewatch.flows import steps

    alpha, beta = store.sync_feeds(con, [(A, "Alpha"), (B, "Beta")], NOW)
    summary = " ".join(sentences(61, count=6))
    entry = FeedEntry("guid-1", U1 + "?utm_source=feed#top", "Launch", summary, None, None, NOW)
    parsed = ParsedFeed("Alpha", "https://alpha.example/", (entry,))
    polled_alpha = steps.PolledFeed(alpha, make_update(alpha, NOW), parsed)

    def lookups(polled: list[steps.PolledFeed]) -> steps.Selection:
        pairs, urls = steps.candidate_keys(polled)
        return steps.select_new(
            polled, store.known_sources(con, pairs), store.known_articles(con, urls)
        )

    selection = lookups([polled_alpha])
    assert [[c.canonical_url for c in g] for g in selection.to_fetch] == [[U1]]
    group = selection.to_fetch[0]
    failed = FetchResult(group[0].url, group[0].url, Outcome.TEMPORARY, error="HTTP 503")
    article = steps.build_article(group, failed, None, min_words=40)
    assert (article.canonical_url, article.extraction_method) == (U1, "feed_summary")
    links = [steps.source_link(c) for g in selection.to_fetch for c in g]
    assert store.save_articles(con, None, NOW, [article], links).articles_new == 1

    # Polled again: nothing new. Another feed carrying the same link: attached, not fetched.
    assert lookups([polled_alpha]).to_fetch == []
    other = replace(entry, guid="beta-guid")
    polled_beta = steps.PolledFeed(beta, make_update(beta, NOW), ParsedFeed("Beta", None, (other,)))
    selection = lookups([polled_alpha, polled_beta])
    assert selection.to_fetch == []
    assert [(s.feed_id, s.guid) for s in selection.known_links] == [(beta.feed_id, "beta-guid")]
    assert store.save_sources(con, None, NOW, selection.known_links) == 1
    assert lookups([polled_alpha, polled_beta]).known_links == []


# --- runs ------------------------------------------------------------------------------------


def test_start_and_finish_run(con: duckdb.DuckDBPyConnection) -> None:
    run_id = store.start_run(con, NOW, "flow-abc")
    assert con.execute(
        "SELECT flow_run_id, started_at, status, finished_at FROM runs"
    ).fetchall() == [("flow-abc", NOW, "running", None)]
    finished = NOW + timedelta(minutes=2)
    store.finish_run(
        con,
        run_id,
        finished,
        "completed",
        {"feeds_due": 4, "feeds_ok": 3, "articles_new": 12, "total_s": 1.5},
    )
    row = con.execute(
        "SELECT status, finished_at, feeds_due, feeds_ok, articles_new, total_s, feeds_failed, "
        "error FROM runs WHERE run_id = ?",
        [run_id],
    ).fetchone()
    assert row == ("completed", finished, 4, 3, 12, 1.5, None, None)

    second = store.start_run(con, finished, None)
    assert second != run_id
    store.finish_run(con, second, finished, "failed", {}, error="boom")
    assert con.execute("SELECT status, error FROM runs WHERE run_id = ?", [second]).fetchone() == (
        "failed",
        "boom",
    )

    with pytest.raises(ValueError, match="unknown run counters: \\['bogus'\\]"):
        store.finish_run(con, second, finished, "completed", {"feeds_due": 1, "bogus": 2})
    assert con.execute(
        "SELECT status, feeds_due FROM runs WHERE run_id = ?", [second]
    ).fetchone() == (
        "failed",
        None,
    )


def test_finish_run_rejects_columns_that_are_not_counters(con: duckdb.DuckDBPyConnection) -> None:
    run_id = store.start_run(con, NOW, None)
    with pytest.raises(ValueError, match="started_at"):
        store.finish_run(con, run_id, NOW, "completed", {"started_at": NOW - timedelta(days=9)})
