"""Alert and digest messages: Markdown for chat, HTML for email. Pure formatting."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


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
    excerpt: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    markdown: str
    html: str


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "date unknown"


def _highlight_md(excerpt: str, evidence: Sequence[str]) -> str:
    for phrase in sorted(set(evidence), key=len, reverse=True):
        if phrase and len(phrase) < 80:
            excerpt = re.sub(re.escape(phrase), lambda m: f"**{m.group(0)}**", excerpt, flags=re.I)
    return excerpt


def _highlight_html(excerpt: str, evidence: Sequence[str]) -> str:
    text = html.escape(excerpt)
    for phrase in sorted(set(evidence), key=len, reverse=True):
        if phrase and len(phrase) < 80:
            text = re.sub(
                re.escape(html.escape(phrase)),
                lambda m: f"<mark>{m.group(0)}</mark>",
                text,
                flags=re.I,
            )
    return text


def format_alert(alert: AlertView) -> Message:
    title = f"[{alert.severity}] {alert.topic_name}: {alert.title or alert.url}"
    source = f"{alert.site_name or 'unknown source'}, {_when(alert.published_at)}"
    evidence_md = ", ".join(f"**{e}**" for e in alert.evidence[:8]) or "(none)"
    lines = [
        f"**{alert.title or alert.url}**",
        f"{source}",
        f"Topic: {alert.topic_name} (`{alert.topic_id}`)",
        f"Evidence: {evidence_md}",
    ]
    if alert.excerpt:
        lines.append("> " + _highlight_md(alert.excerpt, alert.evidence))
    lines += [f"[Read the article]({alert.url})", f"Spacewatch alert #{alert.alert_id}"]
    evidence_html = ", ".join(f"<mark>{html.escape(e)}</mark>" for e in alert.evidence[:8])
    body_html = (
        f"<h2>{html.escape(alert.title or alert.url)}</h2>"
        f"<p>{html.escape(source)}</p>"
        f"<p>Topic: <b>{html.escape(alert.topic_name)}</b> ({html.escape(alert.topic_id)})</p>"
        f"<p>Evidence: {evidence_html or '(none)'}</p>"
        + (
            f"<blockquote>{_highlight_html(alert.excerpt, alert.evidence)}</blockquote>"
            if alert.excerpt
            else ""
        )
        + f'<p><a href="{html.escape(alert.url, quote=True)}">Read the article</a></p>'
        f"<p><small>Spacewatch alert #{alert.alert_id}</small></p>"
    )
    return Message(title, "\n\n".join(lines), body_html)


def format_digest(subscriber: str, alerts: Sequence[AlertView], now: datetime) -> Message:
    """One message: alerts grouped by topic, newest first within each topic."""
    by_topic: dict[str, list[AlertView]] = {}
    for alert in alerts:
        by_topic.setdefault(alert.topic_name, []).append(alert)
    title = f"Spacewatch digest for {subscriber}: {len(alerts)} alerts ({now:%Y-%m-%d})"
    md, parts = [f"**{title}**"], [f"<h1>{html.escape(title)}</h1>"]
    for topic in sorted(by_topic):
        items = sorted(
            by_topic[topic],
            key=lambda a: a.published_at or datetime.min.replace(tzinfo=now.tzinfo),
            reverse=True,
        )
        md.append(f"## {topic}")
        parts.append(f"<h2>{html.escape(topic)}</h2><ul>")
        for a in items:
            evidence = ", ".join(a.evidence[:4])
            md.append(
                f"- [{a.title or a.url}]({a.url}) ({a.site_name or 'unknown'}, "
                f"{_when(a.published_at)}): {evidence} (alert #{a.alert_id})"
            )
            parts.append(
                f'<li><a href="{html.escape(a.url, quote=True)}">{html.escape(a.title or a.url)}'
                f"</a> ({html.escape(a.site_name or 'unknown')}, {_when(a.published_at)}): "
                f"<mark>{html.escape(evidence)}</mark> (alert #{a.alert_id})</li>"
            )
        parts.append("</ul>")
    return Message(title, "\n".join(md), "".join(parts))
