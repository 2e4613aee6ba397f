"""Canonical article URLs."""

from __future__ import annotations

import pytest

from spacewatch.extractors.urls import canonical_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # tracking parameters removed, the rest kept and sorted
        ("https://ex.com/a?utm_source=rss&utm_medium=feed", "https://ex.com/a"),
        ("https://ex.com/a?utm_campaign=x&id=5", "https://ex.com/a?id=5"),
        ("https://ex.com/a?fbclid=IwAR0abc", "https://ex.com/a"),
        ("https://ex.com/a?gclid=Cj0KCQ&z=1", "https://ex.com/a?z=1"),
        ("https://ex.com/a?b=2&a=1&utm_term=t", "https://ex.com/a?a=1&b=2"),
        ("https://ex.com/?p=123", "https://ex.com/?p=123"),
        ("https://ex.com/?p=123&utm_source=twitter", "https://ex.com/?p=123"),
        # parameter names that are also HTML entities stay names (found by Hypothesis)
        ("https://ex.com/a?utm_source=x&lt=0", "https://ex.com/a?lt=0"),
        ("https://ex.com/a?a=1&copy=2&para=3", "https://ex.com/a?a=1&copy=2&para=3"),
        # fragment dropped
        ("https://ex.com/a#comments", "https://ex.com/a"),
        ("https://ex.com/a?x=1#top", "https://ex.com/a?x=1"),
        # scheme and host lower-cased, path case kept
        ("HTTPS://News.Example.COM/Path/Story", "https://news.example.com/Path/Story"),
        # default ports dropped, others kept
        ("http://ex.com:80/a", "http://ex.com/a"),
        ("https://ex.com:443/a", "https://ex.com/a"),
        ("https://ex.com:8443/a", "https://ex.com:8443/a"),
        # dot segments resolved
        ("https://ex.com/a/./b/../c", "https://ex.com/a/c"),
        ("https://ex.com/a/b/../", "https://ex.com/a/"),
        ("https://ex.com/a/./b/", "https://ex.com/a/b/"),
        ("https://ex.com/../a", "https://ex.com/a"),
        # empty path becomes /, surrounding whitespace ignored
        ("https://ex.com", "https://ex.com/"),
        ("  https://ex.com/a\n", "https://ex.com/a"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_everything_at_once() -> None:
    url = "HTTP://Example.COM:80/news/./2024/../story?utm_source=x&b=2&a=1&fbclid=y&gclid=z#frag"
    assert canonical_url(url) == "http://example.com/news/story?a=1&b=2"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://ex.com/file",
        "mailto:editor@ex.com",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "data:text/html,hi",
        "/relative/path",
        "//ex.com/protocol-relative",
        "https:///no-host",
        "",
    ],
)
def test_non_http_is_none(url: str) -> None:
    assert canonical_url(url) is None


def test_canonical_url_is_idempotent() -> None:
    for url in [
        "HTTP://Example.COM:80/a/./b/../c?utm_source=x&b=2&a=1#f",
        "https://ex.com/?p=123",
        "https://ex.com/a/b/../",
    ]:
        once = canonical_url(url)
        assert once is not None
        assert canonical_url(once) == once


def test_malformed_url_is_none_not_an_exception() -> None:
    assert canonical_url("http://[::1/story") is None


def test_trailing_dot_segment_keeps_the_directory_slash() -> None:
    assert canonical_url("https://ex.com/a/b/..") == canonical_url("https://ex.com/a/")
    assert canonical_url("https://ex.com/a/.") == canonical_url("https://ex.com/a/")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # found by tests/test_properties.py: hosts no browser accepts, ports that are no number
        ("https://g\x0cÉ/story", None),
        ("https://news example.com/story", None),
        ("https://ex%41mple.com/story", None),
        ("https://ex.com:6\x93/story", None),
        ("https://ex.com:99999/story", None),
        # credentials are no part of an article's identity; an empty port is no port
        ("https://reader:pw@ex.com/a", "https://ex.com/a"),
        ("https://\x1b@ex.com/a", "https://ex.com/a"),
        ("https://ex.com:/a", "https://ex.com/a"),
        # IPv6 literals stay valid hosts
        ("http://[2001:db8::1]:8080/a", "http://[2001:db8::1]:8080/a"),
    ],
)
def test_invalid_hosts_and_ports_are_none_and_credentials_are_dropped(url: str, expected: str | None) -> None:
    assert canonical_url(url) == expected
