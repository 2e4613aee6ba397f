"""`spacewatch report`: one self-contained HTML file (inline CSS, charts as inline SVG).

Pure building only: `build_charts` turns ReportData into matplotlib figures, `build_svg` and
`build_report_html` turn those into text; `save_report` and `save_pngs` write files. The page
loads nothing: no script, stylesheet, image or font from anywhere, and a Content-Security-Policy
forbids the browser to try, so it opens the same offline, from an e-mail or from a USB stick.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from spacewatch.warehouse.report_data import ReportData, Story, Trend

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CHARTS = (("actors", "Actors"), ("themes", "Themes"))
# Okabe-Ito, readable by colour-blind readers, plus grey: eight series at most.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#555555",
)
STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
 margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1080px;margin:0 auto;padding:24px}
header{background:#1d2330;color:#fff;padding:20px 24px}
header h1{margin:0 0 4px;font-size:24px}
header p{margin:2px 0;color:#cfd5e0}
.stats{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0 0;padding:0;list-style:none}
.stats li{background:#2c3446;border-radius:6px;padding:8px 12px}
.stats b{display:block;font-size:20px;color:#fff}
section{background:#fff;border:1px solid #e1e4ea;border-radius:8px;padding:16px 20px;
 margin:0 0 20px}
h2{margin:0 0 12px;font-size:19px}
h3{margin:18px 0 8px;font-size:16px}
figure{margin:0}
figure svg{width:100%;height:auto;display:block}
figcaption,.note{color:#5b6475;font-size:13px}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eceef2;vertical-align:top}
th{background:#f2f4f7}
td.n{text-align:right;font-variant-numeric:tabular-nums}
ol.stories{padding-left:22px;margin:0}
ol.stories li{margin:0 0 12px}
.meta{color:#5b6475;font-size:13px}
.ev{display:inline-block;background:#fff4cc;border-radius:4px;padding:0 5px;margin:2px 3px 0 0;
 font-size:12.5px}
blockquote{margin:4px 0 0;padding:2px 10px;border-left:3px solid #c9d2e3;color:#3b4456;
 font-size:13.5px}
.empty{font-size:16px;color:#8a4b00;background:#fff6e5;border:1px solid #f3d9a4;
 border-radius:6px;padding:10px 14px}
a{color:#0b5cad}
"""


def format_day(value: datetime | None) -> str:
    return "never" if value is None else f"{value:%Y-%m-%d}"


def format_time(value: datetime | None) -> str:
    return "never" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"


def format_age(value: datetime | None, now: datetime) -> str:
    if value is None:
        return ""
    seconds = max((now - value).total_seconds(), 0)
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return "just now"


def build_charts(data: ReportData) -> dict[str, Figure]:
    """Small multiples per trend: one row of bars per actor or theme, on shared axes.

    One panel per series reads well whether the data is dense (a busy quarter by week) or
    sparse (years by month), where overlaid lines turn into crossing spikes; stacking would
    count a story once per actor it names.
    """
    from datetime import timedelta

    import matplotlib.dates as mdates
    from matplotlib.figure import Figure  # imported here: matplotlib costs ~0.5 s to import

    figures: dict[str, Figure] = {}
    for name, title in CHARTS:
        trend: Trend = getattr(data, name)
        if not trend.series:
            continue
        rows = len(trend.series)
        fig = Figure(figsize=(9.6, 0.95 + 0.52 * rows), dpi=100, layout="constrained")
        axes = fig.subplots(rows, 1, sharex=True, sharey=True, squeeze=False)[:, 0]
        width = 7 * 0.8 if trend.grain == "week" else 31 * 0.75  # days, in date units
        top = max(max(s.counts) for s in trend.series)
        for i, (ax, series) in enumerate(zip(axes, trend.series, strict=True)):
            ax.bar(
                trend.buckets,
                series.counts,
                width=width,
                align="edge",
                color=PALETTE[i % len(PALETTE)],
            )
            ax.set_ylabel(
                f"{series.label} ({series.stories})",
                rotation=0,
                ha="right",
                va="center",
                fontsize=9,
            )
            ax.set_ylim(0, top * 1.15)
            ax.set_yticks([top])
            ax.tick_params(axis="y", labelsize=8, length=2)
            ax.grid(axis="y", color="#e4e7ec", linewidth=0.8)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
        days = 7 if trend.grain == "week" else 31
        axes[-1].set_xlim(trend.buckets[0], trend.buckets[-1] + timedelta(days=days))
        locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
        axes[-1].xaxis.set_major_locator(locator)
        axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        fig.suptitle(
            f"{title}: distinct stories per {trend.grain} (total in brackets)",
            x=0.01,
            ha="left",
            fontsize=12,
        )
        figures[name] = fig
    return figures


def build_svg(fig: Figure, name: str) -> str:
    """The figure as an <svg> element to inline; the same data always gives the same text."""
    import matplotlib

    buffer = io.StringIO()
    # A fixed salt makes the ids of clip paths stable; one per chart keeps them unique in the
    # page. Text as paths: the page needs no font, and renders the same everywhere.
    with matplotlib.rc_context({"svg.hashsalt": f"spacewatch-{name}", "svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
    # Ids (figure_1, glyphs such as DejaVuSans-41) repeat in every chart: prefix every id and
    # every reference so they stay unique in the page.
    svg = re.sub(r'(\bid="|href="#|url\(#)', rf"\g<1>{name}-", svg)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{name} over time" ', 1)


def save_pngs(figures: dict[str, Figure], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in figures.items():
        path = folder / f"{name}.png"
        fig.savefig(path, format="png", dpi=150, metadata={"Software": None})
        written.append(path)
    return written


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]], numeric: set[int]) -> str:
    out = ["<table><thead><tr>"]
    out += [f"<th>{escape(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append(
            "<tr>"
            + "".join(
                f'<td class="n">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
                for i, cell in enumerate(row)
            )
            + "</tr>"
        )
    out.append("</tbody></table>")
    return "".join(out)


def _link(url: str, text: str) -> str:
    if url.startswith(("http://", "https://")):
        return f'<a href="{escape(url)}" rel="noopener noreferrer">{escape(text)}</a>'
    return escape(text)


def _header(data: ReportData) -> str:
    days = max((data.until - data.since).days, 0)
    scope = "space-policy articles only" if data.relevant_only else "all articles, relevant or not"
    stats = (
        (data.articles_in_period, "articles in the period"),
        (data.relevant_in_period, "about space policy"),
        (data.stories_in_period, "distinct stories covered"),
        (data.articles_total, "articles in the warehouse"),
        (data.feeds, "active feeds"),
    )
    fresh = format_time(data.last_run_at)
    if data.last_run_at is not None:
        fresh += f" ({format_age(data.last_run_at, data.until)})"
    return (
        "<header><h1>Spacewatch report</h1>"
        f"<p>Period: <b>{format_day(data.since)}</b> to <b>{format_day(data.until)}</b> "
        f"({days} days); charts and stories cover {escape(scope)}.</p>"
        f"<p>Warehouse snapshot: last completed run {escape(fresh)}; "
        f"snapshot written {escape(format_time(data.snapshot_modified_at))}; "
        f"{data.runs} runs in total. Report made {escape(format_time(data.until))}.</p>"
        '<ul class="stats">'
        + "".join(f"<li><b>{n}</b>{escape(label)}</li>" for n, label in stats)
        + "</ul></header>"
    )


def _trend_section(name: str, title: str, trend: Trend, svg: str | None, noun: str) -> str:
    if svg is None or not trend.series:
        return f'<section id="{name}"><h2>{title} over time</h2>{_empty()}</section>'
    rows = [
        (escape(s.label), escape(s.id), str(s.stories), str(s.mentions), str(max(s.counts)))
        for s in trend.series
    ]
    return (
        f'<section id="{name}"><h2>{title} over time</h2><figure>{svg}'
        f"<figcaption>Distinct stories per {trend.grain} (syndicated copies count once), "
        f"top {len(trend.series)} {name} of the period; {len(trend.buckets)} "
        f"{trend.grain}s from {trend.buckets[0]:%Y-%m-%d}."
        "</figcaption></figure>"
        + _table(("name", "id", "stories", noun, f"busiest {trend.grain}"), rows, {2, 3, 4})
        + "</section>"
    )


def _story(story: Story) -> str:
    copies = f" · {story.copies} copies" if story.copies > 1 else ""
    evidence = "".join(f'<span class="ev">{escape(e)}</span>' for e in story.evidence[:8])
    snippet = f"<blockquote>{escape(story.snippet)}</blockquote>" if story.snippet else ""
    return (
        f"<li><b>{_link(story.url, story.title)}</b><br>"
        f'<span class="meta">{escape(story.site_name or "unknown outlet")} · '
        f"{format_day(story.event_at)} · score {story.score:.2f}{copies}</span><br>"
        f'<span class="meta">matched:</span> {evidence}{snippet}</li>'
    )


def _stories_section(data: ReportData) -> str:
    if not data.theme_stories:
        return f'<section id="stories"><h2>Top stories by theme</h2>{_empty()}</section>'
    parts = ['<section id="stories"><h2>Top stories by theme</h2>']
    for theme in data.theme_stories:
        parts.append(
            f'<h3 id="theme-{escape(theme.theme_id)}">{escape(theme.label)} '
            f'<span class="meta">({escape(theme.theme_id)}: {theme.stories} stories)</span></h3>'
            '<ol class="stories">' + "".join(_story(s) for s in theme.top) + "</ol>"
        )
    parts.append("</section>")
    return "".join(parts)


def _recurring_section(data: ReportData) -> str:
    head = '<section id="recurring"><h2>Recurring actors and themes</h2>'
    note = (
        '<p class="note">Actors and themes of the seed corpus seen again in articles '
        "(view v_recurring), last seen within the period. The 30-day columns count back from "
        "today.</p>"
    )
    if not data.recurring:
        return head + note + '<p class="empty">None seen again in this period.</p></section>'
    rows = [
        (
            escape(r.kind),
            escape(r.label),
            format_day(r.first_seen),
            format_day(r.last_seen),
            str(r.articles),
            str(r.stories),
            str(r.stories_30d),
            str(r.stories_prior_30d),
            "" if r.ratio_to_prior is None else f"{r.ratio_to_prior:.2f}",
            escape(", ".join(r.seeds)),
        )
        for r in data.recurring
    ]
    head_row = (
        "kind",
        "name",
        "first seen",
        "last seen",
        "articles",
        "stories",
        "stories 30d",
        "prior 30d",
        "ratio",
        "seed documents",
    )
    return head + note + _table(head_row, rows, {4, 5, 6, 7, 8}) + "</section>"


def _emerging_section(data: ReportData) -> str:
    head = '<section id="emerging"><h2>Emerging actors</h2>'
    if not data.emerging:
        return head + '<p class="empty">No emerging names in the warehouse.</p></section>'
    refreshed = max((e.refreshed_at for e in data.emerging if e.refreshed_at), default=None)
    note = (
        '<p class="note">Capitalised names recurring in recent space-policy articles that no '
        f"registry alias covers (view v_emerging_actors, refreshed {format_time(refreshed)}). "
        "Candidates for the actor registry.</p>"
    )
    rows = [
        (
            escape(e.name),
            str(e.mentions),
            str(e.articles),
            "<br>".join(_link(x.url, x.title) for x in e.examples),
        )
        for e in data.emerging
    ]
    return (
        head
        + note
        + _table(("name", "mentions", "articles", "examples"), rows, {1, 2})
        + "</section>"
    )


def _alerts_section(data: ReportData) -> str:
    head = '<section id="alerts"><h2>Alerts</h2>'
    if not data.alerts:
        return head + '<p class="empty">No alerts created in this period.</p></section>'
    rows = [
        (
            escape(a.topic_id),
            str(a.alerts),
            str(a.sent),
            str(a.failed),
            str(a.pending),
            str(a.digest),
            str(a.deliveries_sent),
            str(a.deliveries_failed),
        )
        for a in data.alerts
    ]
    total = tuple(sum(getattr(a, f) for a in data.alerts) for f in ("alerts", "sent", "failed"))
    rows.append(("<b>all topics</b>", *(f"<b>{n}</b>" for n in total), "", "", "", ""))
    note = (
        '<p class="note">Alerts created in the period, per topic and status; deliveries are '
        "per destination (a retry never re-sends to one that accepted).</p>"
    )
    head_row = (
        "topic",
        "alerts",
        "sent",
        "failed",
        "pending",
        "in digest",
        "deliveries sent",
        "deliveries failed",
    )
    return head + note + _table(head_row, rows, set(range(1, 8))) + "</section>"


def _empty() -> str:
    return '<p class="empty">No articles in this period.</p>'


def build_report_html(data: ReportData, svgs: dict[str, str] | None = None) -> str:
    """The whole page. `svgs` are the inline charts (build_svg); built here when not given."""
    if svgs is None:
        svgs = {name: build_svg(fig, name) for name, fig in build_charts(data).items()}
    body = [_header(data), "<main>"]
    if data.empty:
        body.append(
            '<p class="empty" id="no-data"><b>No articles in this period.</b> '
            "Nothing in the warehouse snapshot is dated from "
            f"{format_day(data.since)}; try a longer --since.</p>"
        )
    body.append(_trend_section("actors", "Actors", data.actors, svgs.get("actors"), "mentions"))
    body.append(_trend_section("themes", "Themes", data.themes, svgs.get("themes"), "articles"))
    body += [
        _stories_section(data),
        _recurring_section(data),
        _emerging_section(data),
        _alerts_section(data),
    ]
    body.append(
        '<p class="note">Made by <code>spacewatch report</code> from the analysts\' snapshot'
        + (f" <code>{escape(data.snapshot)}</code>" if data.snapshot else "")
        + ". This file loads nothing from the network.</p></main>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        # The page must never fetch anything: the browser enforces it, not only our care.
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Spacewatch report {format_day(data.since)} to {format_day(data.until)}"
        f"</title><style>{STYLE}</style></head><body>" + "".join(body) + "</body></html>\n"
    )


def save_report(data: ReportData, out: Path, png_dir: Path | None = None) -> tuple[int, list[Path]]:
    """Write the HTML (and PNGs); returns (bytes written, PNG paths)."""
    figures = build_charts(data)
    svgs = {name: build_svg(fig, name) for name, fig in figures.items()}
    text = build_report_html(data, svgs)
    pngs = save_pngs(figures, png_dir) if png_dir is not None else []
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)  # a reader never opens half a report
    return len(text.encode("utf-8")), pngs
