"""Article pages in, main text and metadata out (trafilatura), plus the feed-content fallback."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import lxml.html
import trafilatura

from spacewatch.extractors import dedupe
from spacewatch.extractors.models import ExtractedText, FeedEntry
from spacewatch.seeds.tagger import TagResult

_LANG_ATTR = re.compile(rb"<html[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


@dataclass(frozen=True, slots=True)
class ExtractionSettings:
    """trafilatura's knobs; the defaults are the ones that scored best in bench/quality.py."""

    favor_precision: bool = False
    favor_recall: bool = False
    include_comments: bool = False
    include_tables: bool = True
    fast: bool = False


DEFAULT_SETTINGS = ExtractionSettings()


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def html_language(html: bytes) -> str | None:
    match = _LANG_ATTR.search(html[:8192])
    return match.group(1).decode("ascii").lower() if match else None


def normalise_text(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def extract_article(
    html: bytes, url: str | None = None, settings: ExtractionSettings = DEFAULT_SETTINGS
) -> ExtractedText:
    """Main text and metadata of one HTML page; never raises (errors are returned as data)."""
    try:
        doc = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            include_comments=settings.include_comments,
            include_tables=settings.include_tables,
            favor_precision=settings.favor_precision,
            favor_recall=settings.favor_recall,
            fast=settings.fast,
        )
    except Exception as exc:  # trafilatura can trip on pathological markup
        return ExtractedText(text=None, error=f"{type(exc).__name__}: {exc}"[:500])
    language = html_language(html)
    if doc is None:
        return ExtractedText(text=None, language=language)
    text = normalise_text(doc.text) if doc.text else None
    return ExtractedText(
        text=text or None,
        title=doc.title or None,
        author=doc.author or None,
        published_at=_date(doc.date),
        language=(doc.language or language or None),
        site_name=doc.sitename or None,
        description=doc.description or None,
    )


def warm_up() -> None:
    """Run one tiny extraction so a new worker's first real page pays no start-up cost."""
    extract_article(
        b"<html><body><article><p>Warm-up text for the extractor, long enough to keep."
        b"</p></article></body></html>"
    )


def html_to_text(fragment: str) -> str:
    """Plain text of a feed's HTML content or summary."""
    if "<" not in fragment:
        return normalise_text(fragment)
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except Exception:  # lxml raises several types on broken fragments
        return normalise_text(re.sub(r"<[^>]+>", " ", fragment))
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for block in root.iter("p", "div", "li", "h1", "h2", "h3", "h4", "blockquote"):
        block.tail = "\n\n" + (block.tail or "")
    return normalise_text(root.text_content())


def feed_fallback(entry: FeedEntry) -> tuple[str | None, str]:
    """Best text the feed itself carries, and which field it came from."""
    content = html_to_text(entry.content) if entry.content else ""
    summary = html_to_text(entry.summary) if entry.summary else ""
    if content and len(content) >= len(summary):
        return content, "feed_content"
    if summary:
        return summary, "feed_summary"
    return None, "none"


@dataclass(frozen=True, slots=True)
class PageResult:
    """What a worker process sends back for one page: extraction plus its fingerprints."""

    extracted: ExtractedText
    word_count: int
    content_hash: str | None
    signature: bytes | None
    seconds: float = 0.0  # CPU-bound work done in the worker, for the benchmark's time split
    tags: TagResult | None = None


def fingerprint(text: str | None) -> tuple[int, str | None, bytes | None]:
    if not text:
        return 0, None, None
    return len(dedupe.words(text)), dedupe.content_hash(text), dedupe.signature(text)


def process_page(
    html: bytes, url: str | None, settings: ExtractionSettings = DEFAULT_SETTINGS
) -> PageResult:
    """Extraction and fingerprinting in one call, so the worker process does all the CPU work."""
    started = time.perf_counter()
    extracted = extract_article(html, url, settings)
    words, digest, sig = fingerprint(extracted.text)
    return PageResult(extracted, words, digest, sig, time.perf_counter() - started)
