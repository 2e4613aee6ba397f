"""Frozen values passed between the pure functions and the thin I/O layers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """How one HTTP fetch ended; drives backoff and what the operator sees."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"
    TEMPORARY = "temporary_failure"  # worth retrying soon: 5xx, 429, timeouts, resets
    HARD = "hard_failure"  # retrying soon will not help: 4xx, refused address, bad URL


@dataclass(frozen=True, slots=True)
class Redirect:
    status: int
    from_url: str
    to_url: str

    @property
    def permanent(self) -> bool:
        return self.status in (301, 308)


@dataclass(frozen=True, slots=True)
class FetchResult:
    """Everything one GET produced, success or not. `body` is decoded of transfer encodings."""

    url: str  # as requested
    final_url: str  # after redirects
    outcome: Outcome
    status: int | None = None
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()  # lower-case names
    redirects: tuple[Redirect, ...] = ()
    error: str | None = None
    retry_after_s: float | None = None
    duration_ms: int = 0
    bytes_read: int = 0

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def permanent_redirect_target(self) -> str | None:
        """Where the feed has moved, if every hop of the chain was permanent."""
        if self.redirects and all(r.permanent for r in self.redirects):
            return self.redirects[-1].to_url
        return None


@dataclass(frozen=True, slots=True)
class FeedEntry:
    guid: str
    link: str | None
    title: str | None
    summary: str | None
    content: str | None  # full HTML content when the feed carries it
    author: str | None
    published_at: datetime | None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str | None
    site_url: str | None
    entries: tuple[FeedEntry, ...]
    bozo_reason: str | None = None  # feedparser's complaint about malformed input
    encoding: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class ExtractedText:
    """Main text and metadata that trafilatura found in one page."""

    text: str | None
    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    site_name: str | None = None
    description: str | None = None
    error: str | None = None  # timeout or crash inside the extractor


@dataclass(frozen=True, slots=True)
class ArticleCandidate:
    """An entry of some feed whose page should be stored once, under its canonical URL."""

    canonical_url: str
    url: str
    feed_id: int
    entry: FeedEntry


@dataclass(frozen=True, slots=True)
class Article:
    """One article ready to store; `story_id` is filled by near-duplicate detection."""

    canonical_url: str
    url: str
    title: str | None
    author: str | None
    published_at: datetime | None
    language: str | None
    site_name: str | None
    description: str | None
    text: str | None
    extraction_method: str  # trafilatura | feed_content | feed_summary | none
    fetch_outcome: str
    http_status: int | None
    fetch_error: str | None
    content_hash: str | None
    word_count: int
    signature: bytes | None = None  # MinHash, for syndicated-copy detection
    sources: tuple[ArticleCandidate, ...] = field(default=())
    tags: Any = None  # extractors.tagger.TagResult; typed loosely to keep this module light


@dataclass(frozen=True, slots=True)
class FeedState:
    feed_id: int
    configured_url: str
    url: str
    name: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    consecutive_failures: int
    next_due_at: datetime | None
    pending_redirect_url: str | None
    pending_redirect_count: int
    last_success_at: datetime | None = None
    last_outcome: str | None = None
    last_error: str | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class FeedUpdate:
    """New state of one feed after a poll, and the poll's history row."""

    feed_id: int
    polled_at: datetime
    url: str  # the URL polled
    new_url: str  # where the next poll goes (moves after confirmed permanent redirects)
    final_url: str | None
    outcome: str
    unchanged: bool
    http_status: int | None
    duration_ms: int
    bytes: int
    entries: int | None
    new_entries: int | None
    error: str | None
    bozo_reason: str | None
    retry_after_s: float | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    consecutive_failures: int
    next_due_at: datetime
    success: bool
    pending_redirect_url: str | None
    pending_redirect_count: int
    title: str | None = None
    site_url: str | None = None


@dataclass(frozen=True, slots=True)
class SourceLink:
    """One feed entry pointing at one article (by canonical URL)."""

    feed_id: int
    guid: str
    canonical_url: str
    link: str | None
    entry_title: str | None
    entry_published_at: datetime | None
