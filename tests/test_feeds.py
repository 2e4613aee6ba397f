"""parse_feed on bytes: fixtures that state their own expectations, edge cases, real feeds.

Every file in tests/data/feeds/ carries, feedparser-style, its expectation in its first XML
comment::

    <!-- expect: entries=2 bozo=1 version=rss20 content_type="text/xml; charset=windows-1251"
         title0="\\u041a..." guid1=urn:x:2 published0=2024-01-01T00:00:00+00:00 -->

Keys: ``entries`` (count), ``bozo`` (0/1: whether ``bozo_reason`` is set), ``version``,
``encoding``, ``feed_title``, ``site_url``, and per entry ``<field><index>`` for ``title``,
``link``, ``guid``, ``author``, ``summary`` and ``published`` (ISO 8601). ``None`` means None;
``\\uXXXX`` and ``\\xXX`` escapes keep comments ASCII in non-UTF-8 files. Inputs:
``content_type`` (sent as the Content-Type header; without it no headers are passed) and
``url``. ``note`` is for readers; ``xfail`` marks a known bug.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest

from spacewatch.extractors import feeds as feeds_module
from spacewatch.extractors.feeds import parse_feed
from spacewatch.extractors.models import ParsedFeed

FIXTURES = Path(__file__).parent / "data" / "feeds"
EXPECT = re.compile(rb"<!--\s*expect:(.*?)-->", re.DOTALL)
ENTRY_KEY = re.compile(r"(title|link|guid|author|summary|published)(\d+)")
FEED_KEYS = {"feed_title": "title", "site_url": "site_url", "version": "version"}
INPUT_KEYS = {"content_type", "url", "note", "xfail"}


# -- fixture expectations ------------------------------------------------------------------


def read_expectations(path: Path) -> dict[str, str]:
    match = EXPECT.search(path.read_bytes()[:4096])
    if match is None:
        raise AssertionError(f"{path.name} has no <!-- expect: ... --> comment")
    text = match.group(1).decode("utf-8")
    expectations = {}
    for token in shlex.split(text):
        key, sep, value = token.partition("=")
        assert sep, f"{path.name}: expectation {token!r} is not key=value"
        if "\\" in value:
            value = value.encode("ascii").decode("unicode_escape")
        expectations[key] = value
    return expectations


def none_or(value: str) -> str | None:
    return None if value == "None" else value


def parse_fixture(path: Path, expected: dict[str, str]) -> ParsedFeed:
    headers = {"Content-Type": expected["content_type"]} if "content_type" in expected else None
    return parse_feed(path.read_bytes(), headers, expected.get("url"))


def fixture_params() -> list[Any]:
    params = []
    for path in sorted(FIXTURES.iterdir()):
        if not path.is_file():
            continue
        marks = []
        match = EXPECT.search(path.read_bytes()[:4096])
        if match and b"xfail=" in match.group(1):
            reason = read_expectations(path)["xfail"]
            marks.append(pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason))
        params.append(pytest.param(path, id=path.name, marks=marks))
    return params


def test_there_are_fixtures() -> None:
    assert len(fixture_params()) >= 15


@pytest.mark.parametrize("path", fixture_params())
def test_fixture_meets_its_expectations(path: Path) -> None:
    expected = read_expectations(path)
    parsed = parse_fixture(path, expected)
    checked = 0
    for key, value in expected.items():
        if key in INPUT_KEYS:
            continue
        checked += 1
        if key == "entries":
            assert len(parsed.entries) == int(value), [e.title for e in parsed.entries]
        elif key == "bozo":
            assert (parsed.bozo_reason is not None) is (value == "1"), parsed.bozo_reason
        elif key == "encoding":
            assert (parsed.encoding or "").lower() == value.lower()
        elif key in FEED_KEYS:
            assert getattr(parsed, FEED_KEYS[key]) == none_or(value), key
        elif match := ENTRY_KEY.fullmatch(key):
            field, index = match.group(1), int(match.group(2))
            entry = parsed.entries[index]
            if field == "published":
                want = None if value == "None" else datetime.fromisoformat(value)
                assert entry.published_at == want, key
            else:
                assert getattr(entry, field) == none_or(value), key
        else:
            raise AssertionError(f"{path.name}: unknown expectation key {key!r}")
    assert checked >= 2, f"{path.name} states too little"


# -- particular behaviours -----------------------------------------------------------------


def fixture(name: str) -> ParsedFeed:
    path = FIXTURES / name
    return parse_fixture(path, read_expectations(path))


def test_empty_bytes() -> None:
    parsed = parse_feed(b"")
    assert parsed.entries == ()
    assert parsed.bozo_reason
    assert parsed.title is None


@pytest.mark.parametrize(
    "body",
    [
        b" \n\t ",
        b"\x00\xff" * 200,
        b"<" * 10_000,
        b"<rss",
        b"<rss version='2.0'><channel><item><title>x",
        b'{"version": "https://jsonfeed.org/version/1.1", "items": []}',
        b"\xef\xbb\xbf",
        b"<?xml version='1.0' encoding='no-such-codec'?><rss/>",
        "<rss version='2.0'><channel><item><title>\u2603</title></item></channel></rss>".encode(
            "utf-16"
        ),
    ],
    ids=["blank", "binary", "angles", "rss-open", "unclosed", "json", "bom", "codec", "utf16"],
)
def test_garbage_never_raises(body: bytes) -> None:
    parsed = parse_feed(body, {"Content-Type": "application/xml"}, "https://example.org/f")
    assert isinstance(parsed, ParsedFeed)
    assert all(e.guid for e in parsed.entries)


def test_unclosed_feed_yields_what_it_can() -> None:
    parsed = parse_feed(b"<rss version='2.0'><channel><item><title>Partial</title>")
    assert [e.title for e in parsed.entries] == ["Partial"]
    assert parsed.bozo_reason


def test_feedparser_crash_becomes_a_bozo_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("parser exploded")

    monkeypatch.setattr(feeds_module.feedparser, "parse", explode)
    parsed = parse_feed(b"<rss/>")
    assert parsed.entries == ()
    assert parsed.bozo_reason == "RuntimeError: parser exploded"


def test_published_dates_are_aware_utc_in_every_fixture() -> None:
    dated = 0
    for param in fixture_params():
        path = param.values[0]
        for entry in parse_fixture(path, read_expectations(path)).entries:
            if entry.published_at is not None:
                dated += 1
                assert entry.published_at.tzinfo is not None, path.name
                assert entry.published_at.utcoffset() == timedelta(0), path.name
    assert dated >= 6


def test_timezone_offsets_are_converted_not_dropped() -> None:
    parsed = fixture("rss20_basic.xml")
    # "Tue, 05 Mar 2024 09:30:00 +0100" and "Mon, 04 Mar 2024 18:15:00 EST"
    assert parsed.entries[0].published_at == datetime(2024, 3, 5, 8, 30, tzinfo=UTC)
    assert parsed.entries[1].published_at == datetime(2024, 3, 4, 23, 15, tzinfo=UTC)
    assert parsed.entries[0].published_at.tzinfo is UTC


def test_published_falls_back_to_updated() -> None:
    entry = fixture("atom10_basic.xml").entries[1]
    assert entry.published_at == datetime(2024, 2, 11, 12, 30, 45, tzinfo=UTC)


def test_content_is_kept_and_sanitised() -> None:
    first = fixture("rss20_basic.xml").entries[0]
    assert first.content is not None
    assert "<b>target</b>" in first.content
    assert "<script" not in first.content
    assert first.summary == "The agency named a target window."
    assert first.author == "Jane Doe"
    atom = fixture("atom10_basic.xml").entries[0]
    assert atom.content == "<p>Partners for the <em>2028</em> mission.</p>"


def test_encoding_in_header_or_declaration_gives_the_same_text() -> None:
    for a, b in [
        ("cp1251_header_only.xml", "cp1251_declared.xml"),
        ("cp1251_header_only.xml", "cp1251_header_conflict.xml"),
        ("latin1_header_only.xml", "latin1_declared.xml"),
    ]:
        first, second = fixture(a), fixture(b)
        assert first.title == second.title
        assert [e.title for e in first.entries] == [e.title for e in second.entries]


def test_latin1_bytes_without_any_charset_are_mojibake_not_a_crash() -> None:
    # No header and no declaration: the bytes are not UTF-8, so feedparser falls back.
    raw = (FIXTURES / "cp1251_header_only.xml").read_bytes()
    parsed = parse_feed(raw)
    assert len(parsed.entries) == 2
    assert parsed.entries[0].title != fixture("cp1251_header_only.xml").entries[0].title


def test_header_names_are_case_insensitive() -> None:
    raw = (FIXTURES / "cp1251_header_only.xml").read_bytes()
    upper = parse_feed(raw, {"CONTENT-TYPE": "text/xml; charset=windows-1251"})
    assert upper == fixture("cp1251_header_only.xml")


def test_guid_falls_back_to_link() -> None:
    for entry in fixture("no_guid.xml").entries:
        assert entry.guid == entry.link


def test_sha1_guid_is_stable_and_derived_from_title_and_summary() -> None:
    first, again = fixture("no_guid_no_link.xml"), fixture("no_guid_no_link.xml")
    assert [e.guid for e in first.entries] == [e.guid for e in again.entries]
    for entry in first.entries:
        digest = hashlib.sha1(f"{entry.title}\n{entry.summary}".encode()).hexdigest()
        assert entry.guid == "sha1:" + digest
    assert len({e.guid for e in first.entries}) == 2


def test_entries_with_nothing_are_dropped() -> None:
    body = b"""<rss version="2.0"><channel><title>t</title>
    <item></item>
    <item><guid isPermaLink="false">only-a-guid</guid></item>
    <item><title>kept</title></item>
    </channel></rss>"""
    parsed = parse_feed(body, {"Content-Type": "application/rss+xml"})
    assert [e.title for e in parsed.entries] == ["kept"]


def test_feed_metadata() -> None:
    parsed = fixture("rss20_basic.xml")
    assert (parsed.title, parsed.site_url, parsed.version) == (
        "Orbital Policy Watch",
        "https://example.org/",
        "rss20",
    )


def test_body_that_looks_like_a_path_is_not_read_from_disk(tmp_path: Path) -> None:
    secret = tmp_path / "local-secret.xml"
    secret.write_text(
        "<rss version='2.0'><channel><title>LOCAL FILE</title>"
        "<item><title>secret entry</title><link>http://internal/1</link></item>"
        "</channel></rss>"
    )
    parsed = parse_feed(os.fsencode(secret), {"Content-Type": "application/rss+xml"})
    assert parsed.entries == ()
    assert parsed.title is None


# -- real-world feeds (public evaluation material, not in the repository) --------------------


def find_eval_feeds() -> Path | None:
    for root in (
        Path(__file__).resolve().parents[2] / "shared" / "eval" / "feeds",
        Path("/work/shared/eval/feeds"),
    ):
        if (root / "INDEX.json").is_file():
            return root
    return None


EVAL_FEEDS = find_eval_feeds()


def eval_params() -> list[Any]:
    if EVAL_FEEDS is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason="shared/eval/feeds not found"))]
    index = json.loads((EVAL_FEEDS / "INDEX.json").read_text())
    return [pytest.param(item, id=item["file"].removeprefix("feeds/")) for item in index]


def eval_path(item: dict[str, Any]) -> Path:
    assert EVAL_FEEDS is not None
    relative = Path(item["file"])
    if relative.parts[0] == "feeds":
        relative = Path(*relative.parts[1:])
    return EVAL_FEEDS / relative


def test_eval_index_lists_72_feeds() -> None:
    if EVAL_FEEDS is None:
        pytest.skip("shared/eval/feeds not found")
    index = json.loads((EVAL_FEEDS / "INDEX.json").read_text())
    assert len(index) == 72
    assert all(eval_path(item).is_file() for item in index)


@pytest.mark.parametrize("item", eval_params())
def test_real_world_feed(item: dict[str, Any]) -> None:
    body = eval_path(item).read_bytes()
    parsed = parse_feed(body)  # must never raise
    expected = item["feedparser_entries"]
    if len(parsed.entries) != expected:
        # parse_feed deliberately keeps one entry per guid and drops entries with neither
        # link, title nor summary; anything else would be a regression.
        raw = feedparser.parse(body)
        assert len(raw.entries) == expected, "feedparser itself disagrees with INDEX.json"
        usable = [e for e in raw.entries if e.get("link") or e.get("title") or e.get("summary")]
        guids = Counter(
            (e.get("id") or "").strip() or (e.get("link") or "").strip() or None for e in usable
        )
        duplicates = sum(n - 1 for g, n in guids.items() if g is not None)
        assert len(parsed.entries) == expected - (len(raw.entries) - len(usable)) - duplicates
    assert len({e.guid for e in parsed.entries}) == len(parsed.entries)
    for entry in parsed.entries:
        assert entry.guid
        if entry.published_at is not None:
            assert entry.published_at.utcoffset() == timedelta(0)
    if item["feedparser_bozo"]:
        assert parsed.bozo_reason is not None
    elif parsed.bozo_reason is not None:
        # Only parse_feed's own verdict on a document feedparser found nothing in.
        assert parsed.bozo_reason == "no feed found in the document"
        assert expected == 0
