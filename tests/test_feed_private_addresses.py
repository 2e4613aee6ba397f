"""`allow_private_addresses` per feed: the intranet feed and the pages it links may reach
private addresses, other feeds may not, and metadata addresses stay refused for everyone."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import query
from spacewatch.config import ConfigError, load_config, parse_config
from spacewatch.flows import pipeline
from spacewatch.loopback import SAMPLE_DIR, LoopbackServer, static_route

PAGE = SAMPLE_DIR / "pages" / "orbital-desk" / "rogozin-lunar-station.html"
# Port 9 (discard): even a broken guard would send nothing a metadata service answers.
METADATA_PAGE = "http://[fd00:ec2::254]:9/latest/meta-data/iam"

pytestmark = pytest.mark.usefixtures("prefect_harness")


def feed(title: str, items: list[tuple[str, str]]) -> bytes:
    entries = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid>"
        f"<description>Feed text of {t}, kept when the page cannot be had.</description></item>"
        for t, link in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"{entries}</channel></rss>"
    ).encode()


def test_a_feed_setting_overrides_the_default_and_its_pages_inherit_it(tmp_path: Path) -> None:
    with LoopbackServer() as server:
        page_url = server.url("/intranet/lunar.html")
        server.set(
            "/intranet.xml",
            static_route(
                feed("Intranet", [("Lunar station", page_url), ("Credentials", METADATA_PAGE)]),
                "application/rss+xml",
            ),
        )
        server.set("/other.xml", static_route(feed("Other", []), "application/rss+xml"))
        html = PAGE.read_bytes().replace(b"{{BASE}}", server.base_url.encode())
        server.set("/intranet/lunar.html", static_route(html, "text/html"))
        config = tmp_path / "spacewatch.toml"
        config.write_text(
            f"""[warehouse]
path = "wh.duckdb"
[fetch]
allow_private_addresses = false
timeout_s = 5
[extract]
workers = 1
[[feeds]]
url = "{server.url("/intranet.xml")}"
name = "intranet"
allow_private_addresses = true
[[feeds]]
url = "{server.url("/other.xml")}"
name = "other"
""",
            encoding="utf-8",
        )
        summary = pipeline.run_pipeline(config)
        assert server.count("/intranet.xml") == 1
        assert server.count("/intranet/lunar.html") == 1
        assert server.count("/other.xml") == 0

    wh = tmp_path / "wh.duckdb"
    assert summary.feeds_ok == 1 and summary.feeds_failed == 1
    feeds = dict(query(wh, "SELECT name, last_error FROM feeds"))
    assert feeds["intranet"] is None
    assert feeds["other"] == (
        f"refused address 127.0.0.1 (loopback), for {server.url('/other.xml')}"
    )
    # The page the intranet feed links is fetched and extracted like any other.
    rows = query(wh, "SELECT extraction_method FROM articles WHERE title = 'Lunar station'")
    assert rows == [("trafilatura",)]
    # Its metadata link is refused all the same; the article keeps the feed's text.
    rows = query(
        wh, "SELECT extraction_method, text, fetch_error FROM articles WHERE title = 'Credentials'"
    )
    assert rows == [
        (
            "feed_summary",
            "Feed text of Credentials, kept when the page cannot be had.",
            f"refused address fd00:ec2::254 (cloud metadata), for {METADATA_PAGE}",
        )
    ]


def test_feed_setting_defaults_to_the_fetch_section(tmp_path: Path) -> None:
    text = """[fetch]
allow_private_addresses = true
[[feeds]]
url = "http://intranet.corp/feed.xml"
[[feeds]]
url = "https://news.example/feed.xml"
allow_private_addresses = false
"""
    config = parse_config(text, tmp_path / "spacewatch.toml")
    assert config.feed_allows_private() == {
        "http://intranet.corp/feed.xml": True,
        "https://news.example/feed.xml": False,
    }
    assert parse_config(
        "[[feeds]]\nurl = 'http://a.example/'\n", tmp_path / "x.toml"
    ).feed_allows_private() == {"http://a.example/": False}


def test_a_bad_feed_setting_is_one_line_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "spacewatch.toml"
    path.write_text(
        '[[feeds]]\nurl = "https://a.example/feed"\n\n'
        '[[feeds]]\nurl = "https://b.example/feed"\nallow_private_addresses = "sometimes"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: [[feeds]] #2 allow_private_addresses: ")
    assert "'sometimes'" in message and "\n" not in message


def test_the_setting_follows_the_configured_url_and_any_linking_feed(tmp_path: Path) -> None:
    from spacewatch.extractors.models import ArticleCandidate, FeedEntry, FeedState
    from spacewatch.flows.steps import page_allows_private, private_feed_ids

    text = """[[feeds]]
url = "http://intranet.corp/old.xml"
allow_private_addresses = true
[[feeds]]
url = "https://news.example/feed.xml"
"""
    config = parse_config(text, tmp_path / "spacewatch.toml")
    feeds = [
        # The intranet feed has moved (a confirmed permanent redirect): still its own setting.
        FeedState(
            1,
            "http://intranet.corp/old.xml",
            "http://intranet.corp/new.xml",
            None,
            None,
            None,
            None,
            0,
            None,
            None,
            0,
        ),
        FeedState(
            2,
            "https://news.example/feed.xml",
            "https://news.example/feed.xml",
            None,
            None,
            None,
            None,
            0,
            None,
            None,
            0,
        ),
    ]
    private = private_feed_ids(feeds, config)
    assert private == frozenset({1})

    def group(*feed_ids: int) -> list[ArticleCandidate]:
        entry = FeedEntry("g", "http://intranet.corp/a", None, None, None, None, None)
        return [
            ArticleCandidate("http://intranet.corp/a", "http://intranet.corp/a", f, entry)
            for f in feed_ids
        ]

    assert page_allows_private(group(1), private)
    assert page_allows_private(group(2, 1), private)  # linked by the intranet feed too
    assert not page_allows_private(group(2), private)
