"""Feed bytes in, `ParsedFeed` out. A malformed feed is data: we keep what feedparser recovers."""

from __future__ import annotations

import calendar
import hashlib
import io
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser

from spacewatch.extractors.models import FeedEntry, ParsedFeed

# feedparser resolves relative links and sanitises HTML itself; these keep it off the network.
feedparser.RESOLVE_RELATIVE_URIS = True
feedparser.SANITIZE_HTML = True


def parse_feed(
    body: bytes, headers: Mapping[str, str] | None = None, url: str | None = None
) -> ParsedFeed:
    """Parse feed bytes with the HTTP response headers (charset, base URL)."""
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    if url:
        response_headers.setdefault("content-location", url)
    try:
        # A file object, never bytes: feedparser treats a body that looks like a path or a
        # URL as something to open.
        parsed = feedparser.parse(io.BytesIO(body), response_headers=response_headers)
    except Exception as exc:  # feedparser promises not to raise; be sure of it
        return ParsedFeed(title=None, site_url=None, entries=(), bozo_reason=_reason(exc))
    meta = parsed.get("feed", {})
    entries = []
    seen: set[str] = set()
    for raw in parsed.get("entries", []):
        entry = _entry(raw)
        if entry is None or entry.guid in seen:
            continue
        seen.add(entry.guid)
        entries.append(entry)
    bozo = _reason(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    if not entries and not parsed.get("version") and bozo is None:
        bozo = "no feed found in the document"
    return ParsedFeed(
        title=_clean(meta.get("title")),
        site_url=_clean(meta.get("link")),
        entries=tuple(entries),
        bozo_reason=bozo,
        encoding=parsed.get("encoding"),
        version=parsed.get("version") or None,
    )


def _reason(exc: object) -> str | None:
    if exc is None:
        return None
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _date(raw: Mapping[str, Any]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = raw.get(key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, TypeError):
                continue
    return None


def _content(raw: Mapping[str, Any]) -> str | None:
    best = None
    for part in raw.get("content") or []:
        value = _clean(part.get("value"))
        if value and (best is None or len(value) > len(best)):
            best = value
    return best


def _entry(raw: Mapping[str, Any]) -> FeedEntry | None:
    link = _clean(raw.get("link"))
    title = _clean(raw.get("title"))
    summary = _clean(raw.get("summary"))
    if not (link or title or summary):
        return None
    guid = _clean(raw.get("id")) or link
    if guid is None:
        # Neither id nor link: a stable identity still lets us skip the entry next time.
        guid = "sha1:" + hashlib.sha1(f"{title}\n{summary}".encode()).hexdigest()
    return FeedEntry(
        guid=guid,
        link=link,
        title=title,
        summary=summary,
        content=_content(raw),
        author=_clean(raw.get("author")),
        published_at=_date(raw),
    )
