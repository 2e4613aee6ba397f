"""Alert and digest messages, one rendering per kind of destination. Pure formatting.

Every text that comes from a feed (title, outlet, snippet, evidence) is escaped for the format
it lands in: HTML-escaped for e-mail, backslash-escaped CommonMark for Discord, Telegram and
other Markdown chats, and Slack's own mrkdwn for Slack. In every chat format mentions
(`@channel`, `@here`, `@everyone`, `<!channel>`, `<@U123>`) are broken with a zero-width space
or bracket look-alikes, and link syntax or bare URLs in feed text are defanged, so the only
link a message carries is the story's own.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

ZWSP = "\u200b"


@dataclass(frozen=True, slots=True)
class AlertView:
    """What a message needs to know about one alert."""

    alert_id: int
    topic_id: str
    topic_name: str
    severity: str
    title: str | None
    url: str
    site_name: str | None
    published_at: datetime | None
    evidence: tuple[str, ...]
    excerpt: str | None = None  # the article's text; the snippet is chosen from it
    subscriber: str | None = None
    outlets: tuple[str, ...] = ()  # every outlet carrying the story (syndicated copies)
    first_seen_at: datetime | None = None  # when Spacewatch first saw the story
    actors: tuple[str, ...] = ()
    rule_text: str | None = None  # the topic's rule in words (alerting.describe_rule)


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    markdown: str  # CommonMark with feed text escaped
    html: str
    text: str = ""  # plain text
    slack: str = ""  # Slack mrkdwn

    def body_for(self, formats: Sequence[str], service: str) -> tuple[str, str]:
        """(body, format) for a destination that takes `formats` (Apprise's, preferred
        first), so Apprise sends it as written instead of converting our text."""
        formats = [str(f).lower() for f in formats]
        if "markdown" in formats and "html" not in formats[:1]:
            if service.lower().startswith("slack") and self.slack:
                return self.slack, "markdown"
            return self.markdown, "markdown"
        if "html" in formats:
            return self.html, "html"
        if "markdown" in formats:
            return self.markdown, "markdown"
        return self.text or self.markdown, "text"


# --- snippets and highlights -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snippet:
    text: str
    spans: tuple[tuple[int, int], ...]  # non-overlapping, sorted: what to highlight
    shown: tuple[str, ...]  # evidence phrases visible in the snippet or the title
    hidden: int  # evidence phrases that are not visible, so not named


def _pattern(phrases: Sequence[str]) -> re.Pattern[str] | None:
    usable = sorted({p for p in phrases if p and p.strip() and len(p) < 80}, key=len, reverse=True)
    if not usable:
        return None
    # One alternation, longest first: each stretch of text is matched at most once, so
    # highlights can never nest or overlap.
    return re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(p) for p in usable) + r")(?!\w)", re.IGNORECASE
    )


def _flat(text: str) -> str:
    return " ".join(text.split())


def _oneline(text: str) -> str:
    """Line breaks become spaces (feed text must not start a Markdown block); nothing is
    stripped, so highlighted fragments keep their spacing."""
    return re.sub(r"\s", " ", text)


def _widen(text: str, start: int, end: int, width: int) -> tuple[int, int]:
    pad = max(0, (width - (end - start)) // 2)
    lo, hi = max(0, start - pad), min(len(text), end + pad)
    if lo > 0:
        space = text.find(" ", lo, start)
        lo = space + 1 if space != -1 else lo
    if hi < len(text):
        space = text.rfind(" ", end, hi)
        hi = space if space != -1 else hi
    return lo, hi


def make_snippet(
    text: str | None, evidence: Sequence[str], title: str | None = None, width: int = 320
) -> Snippet:
    """Up to three fragments of `text` around the evidence, joined by ' … ', with the spans to
    highlight. Only phrases the reader can see (in the snippet or the title) are `shown`."""
    # Defanged and unmentioned before highlighting, so a highlight cannot split a URL or a
    # mention into pieces that each escape on their own.
    body = _unmention(_defang(_flat(text or "")))
    pattern = _pattern(evidence)
    windows: list[tuple[int, int]] = []
    if pattern is not None:
        seen: set[str] = set()
        per = max(80, width // 3)
        for m in pattern.finditer(body):
            key = m.group(0).lower()
            if key in seen:
                continue
            seen.add(key)
            windows.append(_widen(body, m.start(), m.end(), per))
            if len(windows) == 3:
                break
    if not windows:
        windows = [_widen(body, 0, 0, width * 2)] if body else []
        if windows:
            windows = [(0, windows[0][1])]
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(windows):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    pieces = []
    for lo, hi in merged:
        piece = body[lo:hi].strip()
        if piece:
            pieces.append(piece)
    snippet = " … ".join(pieces)
    if merged and merged[0][0] > 0:
        snippet = "… " + snippet
    if merged and merged[-1][1] < len(body):
        snippet += " …"
    spans: tuple[tuple[int, int], ...] = ()
    visible: set[str] = set()
    if pattern is not None:
        found = list(pattern.finditer(snippet))
        spans = tuple((m.start(), m.end()) for m in found)
        visible = {m.group(0).lower() for m in found}
        visible |= {m.group(0).lower() for m in pattern.finditer(_flat(title or ""))}
    names = list(dict.fromkeys(e for e in evidence if e))
    shown = tuple(e for e in names if e.lower() in visible)
    return Snippet(snippet, spans, shown, len(names) - len(shown))


# --- escaping per format -------------------------------------------------------------------

_SCHEME_SEP = re.compile(r":(?=//)")
_WWW = re.compile(r"(?i)www\.")
_MENTION = re.compile(r"@(?=[\w!#&])")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()|~<>&])")


def _defang(text: str) -> str:
    """Bare URLs in feed text stop being links: 'https://x' -> 'https[:]//x', 'www[.]x'."""
    text = _SCHEME_SEP.sub("[:]", text)
    return _WWW.sub("www[.]", text)


def _unmention(text: str) -> str:
    return _MENTION.sub("@" + ZWSP, text)


def escape_markdown(text: str) -> str:
    """Feed text made inert in CommonMark (Discord, Telegram, Mattermost...): every markup
    character backslash-escaped, mentions broken, bare URLs defanged."""
    return _unmention(_MD_SPECIAL.sub(r"\\\1", _defang(_oneline(text))))


def escape_slack(text: str) -> str:
    """Feed text made inert in Slack mrkdwn. Slack has no backslash escape, and Apprise turns
    any '...>' run back into a mention or link, so angle brackets become look-alikes."""
    text = _oneline(text).replace("<", "‹").replace(">", "›")
    return _unmention(_defang(text))


def escape_text(text: str) -> str:
    """Plain text for chat-like destinations: mentions broken, URLs defanged, no '<...>'."""
    text = _oneline(text).replace("<", "‹").replace(">", "›")
    return _unmention(_defang(text))


def safe_title(text: str) -> str:
    """A message title (e-mail subject, chat title) from feed text: one line, no mention, no
    link syntax."""
    return escape_text(text).replace("](", "]" + ZWSP + "(")


def link_url(url: str) -> str:
    """The story's URL with the characters that could end a Markdown or Slack link encoded."""
    return quote(url, safe=":/?#@!$&'*+,;=%~-._")


def _render(snippet: Snippet, escape: Callable[[str], str], open_: str, close: str) -> str:
    out, pos = [], 0
    for start, end in snippet.spans:
        out.append(escape(snippet.text[pos:start]))
        out.append(open_ + escape(snippet.text[start:end]) + close)
        pos = end
    out.append(escape(snippet.text[pos:]))
    return "".join(out)


def highlight_html(snippet: Snippet) -> str:
    return _render(snippet, html.escape, "<mark>", "</mark>")


def highlight_markdown(snippet: Snippet) -> str:
    return _render(snippet, escape_markdown, "**", "**")


def highlight_slack(snippet: Snippet) -> str:
    return _render(snippet, escape_slack, "*", "*")


# --- alerts and digests --------------------------------------------------------------------


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "date unknown"


def _outlets(alert: AlertView) -> tuple[str, ...]:
    named = alert.outlets or ((alert.site_name,) if alert.site_name else ())
    return tuple(dict.fromkeys(o for o in named if o)) or ("unknown source",)


def stop_hint(subscriber: str | None, topic_ids: Sequence[str]) -> str:
    """How to stop or adjust these messages: the subscriber's own keys in the configuration."""
    who = f'[[subscribers]] name = "{subscriber}"' if subscriber else "your [[subscribers]] entry"
    topics = ", ".join(f'"{t}"' for t in topic_ids)
    return (
        f"To stop or adjust these messages, ask the Spacewatch operator to set, under {who} "
        f"in spacewatch.toml: muted_topics = [{topics}] to mute "
        f"{'this topic' if len(topic_ids) == 1 else 'these topics'}, or "
        "paused_until = 2030-01-01T00:00:00Z to pause everything (alerts then wait for the "
        "first digest after the pause)."
    )


def format_alert(alert: AlertView) -> Message:
    """One alert: the story, its outlets, when it was first seen, actors, the rule, a snippet
    with the evidence it shows, the link (in every part) and how to stop such messages."""
    headline = alert.title or alert.url
    title = safe_title(f"[{alert.severity}] {alert.topic_name}: {headline}")
    snippet = make_snippet(alert.excerpt, alert.evidence, alert.title)
    outlets = _outlets(alert)
    url = link_url(alert.url)
    more = f" (+{snippet.hidden} more not quoted)" if snippet.hidden else ""
    facts = [
        ("Outlets", f"{len(outlets)}: " + ", ".join(outlets)),
        ("Published", _when(alert.published_at)),
        ("First seen by Spacewatch", _when(alert.first_seen_at)),
        ("Actors", ", ".join(alert.actors) or "none identified"),
        ("Topic", f"{alert.topic_name} ({alert.topic_id})"),
        ("Rule", alert.rule_text or alert.topic_id),
    ]
    hint = stop_hint(alert.subscriber, [alert.topic_id])
    footer = f"Spacewatch alert #{alert.alert_id}"

    md = [f"**{escape_markdown(headline)}**"]
    md += [f"{k}: {escape_markdown(v)}" for k, v in facts]
    md.append(
        "Evidence: "
        + (", ".join(f"**{escape_markdown(e)}**" for e in snippet.shown) or "(none)")
        + more
    )
    if snippet.text:
        md.append("> " + highlight_markdown(snippet))
    md += [f"[Read the article]({url})", escape_markdown(hint), footer]

    sl = [f"*{escape_slack(headline)}*"]
    sl += [f"{k}: {escape_slack(v)}" for k, v in facts]
    shown_sl = ", ".join(f"*{escape_slack(e)}*" for e in snippet.shown)
    sl.append(f"Evidence: {shown_sl or '(none)'}{more}")
    if snippet.text:
        sl.append("> " + highlight_slack(snippet))
    sl += [f"<{url}|Read the article>", escape_slack(hint), footer]

    tx = [escape_text(headline)]
    tx += [f"{k}: {escape_text(v)}" for k, v in facts]
    tx.append("Evidence: " + (", ".join(escape_text(e) for e in snippet.shown) or "(none)") + more)
    if snippet.text:
        tx.append(escape_text(snippet.text))
    tx += [f"Link: {alert.url}", hint, footer]

    e = html.escape
    body_html = (
        f"<h2>{e(headline)}</h2>"
        + "".join(f"<p>{e(k)}: {e(v)}</p>" for k, v in facts)
        + "<p>Evidence: "
        + (", ".join(f"<mark>{e(x)}</mark>" for x in snippet.shown) or "(none)")
        + f"{e(more)}</p>"
        + (f"<blockquote>{highlight_html(snippet)}</blockquote>" if snippet.text else "")
        # The URL is shown as text too: the plain-text part of the e-mail is made from this
        # HTML, and an <a> alone would leave it without the link.
        + f'<p>Link: <a href="{e(alert.url, quote=True)}">{e(alert.url)}</a></p>'
        + f"<p><small>{e(hint)}</small></p>"
        + f"<p><small>{footer}</small></p>"
    )
    return Message(title, "\n\n".join(md), body_html, "\n\n".join(tx), "\n\n".join(sl))


def format_digest(subscriber: str, alerts: Sequence[AlertView], now: datetime) -> Message:
    """One message: alerts grouped by topic, newest first within each topic, each with its
    outlet count, a snippet and the link; then how to stop or adjust the digest."""
    by_topic: dict[str, list[AlertView]] = {}
    for alert in alerts:
        by_topic.setdefault(alert.topic_name, []).append(alert)
    title = safe_title(f"Spacewatch digest for {subscriber}: {len(alerts)} alerts ({now:%Y-%m-%d})")
    md, sl, tx = [f"**{escape_markdown(title)}**"], [f"*{escape_slack(title)}*"], [title]
    parts = [f"<h1>{html.escape(title)}</h1>"]
    e = html.escape
    for topic in sorted(by_topic):
        items = sorted(
            by_topic[topic],
            key=lambda a: a.published_at or datetime.min.replace(tzinfo=now.tzinfo),
            reverse=True,
        )
        md.append(f"## {escape_markdown(topic)}")
        sl.append(f"*{escape_slack(topic)}*")
        tx.append(topic)
        parts.append(f"<h2>{e(topic)}</h2><ul>")
        for a in items:
            headline = a.title or a.url
            url = link_url(a.url)
            snippet = make_snippet(a.excerpt, a.evidence, a.title, width=200)
            outlets = _outlets(a)
            where = f"{len(outlets)} outlet{'s' if len(outlets) > 1 else ''}: {', '.join(outlets)}"
            meta = f"{where}; {_when(a.published_at)}"
            md.append(
                f"- [{escape_markdown(headline)}]({url}) "
                f"({escape_markdown(meta)}, alert #{a.alert_id})"
                + (f"\n  > {highlight_markdown(snippet)}" if snippet.text else "")
            )
            sl.append(
                f"• <{url}|{escape_slack(headline)}> ({escape_slack(meta)}, alert #{a.alert_id})"
                + (f"\n> {highlight_slack(snippet)}" if snippet.text else "")
            )
            tx.append(
                f"- {escape_text(headline)} ({escape_text(meta)}, alert #{a.alert_id})\n"
                f"  {escape_text(snippet.text)}\n  Link: {a.url}"
            )
            parts.append(
                f'<li><a href="{e(a.url, quote=True)}">{e(headline)}</a> ({e(meta)}, '
                f"alert #{a.alert_id})"
                + (f"<br>{highlight_html(snippet)}" if snippet.text else "")
                + f"<br>Link: {e(a.url)}</li>"
            )
        parts.append("</ul>")
    hint = stop_hint(subscriber, sorted({a.topic_id for a in alerts}))
    md.append(escape_markdown(hint))
    sl.append(escape_slack(hint))
    tx.append(hint)
    parts.append(f"<p><small>{e(hint)}</small></p>")
    return Message(title, "\n".join(md), "".join(parts), "\n".join(tx), "\n".join(sl))
