"""spacewatch report: the bundled sample through the real pipeline (with alerts delivered to a
loopback webhook and to a closed port), reported as HTML that a real headless Chromium renders.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from receivers import WebhookSink

from helpers import query, sample_feeds, write_config
from spacewatch.flows import pipeline
from spacewatch.loopback import LoopbackServer, load_sample_routes
from spacewatch.report import build_charts, build_report_html, build_svg
from spacewatch.warehouse.connect import open_for_writing
from spacewatch.warehouse.report_data import (
    ReportData,
    Story,
    ThemeStories,
    build_buckets,
    load_report_data,
)
from spacewatch.warehouse.snapshot import open_snapshot, publish_snapshot

pytestmark = pytest.mark.usefixtures("prefect_harness")
SPACEWATCH = str(Path(sys.executable).with_name("spacewatch"))
CHROMIUM = "/usr/bin/chromium"
# The sample's articles are dated 2021-04-12 to 2026-10-05.
SINCE = "2021-01-01"


def sw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SPACEWATCH, *args], capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The sample through the real pipeline once; one subscriber's destination is down."""
    folder = tmp_path_factory.mktemp("report")
    with LoopbackServer() as server, WebhookSink() as hook:
        for path, route in load_sample_routes(server.base_url).items():
            server.set(path, route)
        config = write_config(folder, sample_feeds(server.base_url))
        config.write_text(
            config.read_text()
            + f"""
[alerts]
max_age_h = 0  # the sample's stories are years old: alert on them all
timeout_s = 5
min_interval_s = 0
max_attempts = 1

[[topics]]
id = "lunar_station"
name = "Lunar station"
themes = ["moon_base_ilrs"]

[[topics]]
id = "space_force_deployment"
name = "Space Force deployments"
themes = ["space_force_deployment"]

[[subscribers]]
name = "desk"
urls = ["{hook.url()}"]
topics = ["lunar_station", "space_force_deployment"]

[[subscribers]]
name = "down"
urls = ["json://127.0.0.1:9/closed"]
topics = ["space_force_deployment"]
""",
            encoding="utf-8",
        )
        pipeline.run_pipeline(config)
    yield config


def test_report_shows_the_sample_offline_with_pngs(sample: Path, tmp_path: Path) -> None:
    out, pngs = tmp_path / "r" / "report.html", tmp_path / "png"
    result = sw(
        "report",
        "--since",
        SINCE,
        "--out",
        str(out),
        "--png-dir",
        str(pngs),
        "--config",
        str(sample),
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout and "20 articles" in result.stdout
    html = out.read_text("utf-8")

    # Header: period, freshness, counts.
    assert f"<b>{SINCE}</b>" in html and "last completed run" in html
    assert "<b>20</b>articles in the period" in html and "<b>16</b>about space policy" in html
    # Charts: the sample's top actors and themes, inline SVG drawn as paths.
    assert html.count("<svg ") == 2 and html.count("<path ") > 100
    for name in (
        "United States",
        "China",
        "NASA",
        "Russia",
        "Roscosmos",
        "International Lunar Research Station",
    ):
        assert f"<td>{name}</td>" in html
    for theme in (
        "artemis_gateway",
        "moon_base_ilrs",
        "space_militarization",
        "space_force_deployment",
    ):
        assert f"<td>{theme}</td>" in html and f'id="theme-{theme}"' in html
    assert "stories per month" in html  # six years of articles: monthly buckets
    # Top stories with outlet, date, link, the theme's evidence and a stored snippet; text escaped.
    assert "Russia and China unveil roadmap for International Lunar Research Station" in html
    assert "After Orion&#x27;s return, Artemis partners turn to the Lunar Gateway" in html
    assert "The Lunar Ledger · 2022-12-14" in html
    assert '<span class="ev">lunar gateway</span>' in html
    assert "3 copies" in html  # the syndicated ILRS story counts once, with its copies
    assert "<blockquote>…" in html
    assert re.search(
        r'<a href="http://127\.0\.0\.1:\d+/pages/lunar-ledger/moon-mining-law\.html"', html
    )
    # Recurring (v_recurring) and emerging (v_emerging_actors).
    recurring = html[html.index('id="recurring"') : html.index('id="emerging"')]
    assert "brand-new-space-race.txt" in recurring and "<td>Roscosmos</td>" in recurring
    emerging = html[html.index('id="emerging"') : html.index('id="alerts"')]
    assert "<td>Lunar Gateway</td>" in emerging
    # Alerts per topic: the webhook took them all, the closed port failed its own.
    wh = sample.parent / "wh.duckdb"
    counts = dict(query(wh, "SELECT topic_id || '/' || status, count(*) FROM alerts GROUP BY 1"))
    assert (
        counts.get("space_force_deployment/failed", 0) > 0
        and counts.get("lunar_station/sent", 0) > 0
    )
    alerts = html[html.index('id="alerts"') :]
    sfd = counts.get("space_force_deployment/sent", 0) + counts["space_force_deployment/failed"]
    assert (
        f'<td>space_force_deployment</td><td class="n">{sfd}</td>'
        f'<td class="n">{counts.get("space_force_deployment/sent", 0)}</td>'
        f'<td class="n">{counts["space_force_deployment/failed"]}</td>'
    ) in alerts
    assert f'<td>lunar_station</td><td class="n">{counts["lunar_station/sent"]}</td>' in alerts

    # Nothing is loaded from anywhere: no script, stylesheet, image, frame, font or import.
    assert not re.search(r"<(script|link|img|iframe|object|embed|source|video|audio)\b", html, re.I)
    assert not re.search(r"(@import|url\((?!#)|\bsrc=)", html, re.I)  # url(#clip) is inline
    assert not re.search(r'href="https?://(?![^"]*/pages/)', html)  # links only to the articles
    assert "default-src 'none'" in html

    # PNGs: the same two charts.
    from PIL import Image

    assert sorted(p.name for p in pngs.iterdir()) == ["actors.png", "themes.png"]
    for png in pngs.iterdir():
        with Image.open(png) as image:
            assert image.format == "PNG" and image.width >= 1000 and image.height >= 300
            assert len(image.convert("RGB").getcolors(1 << 16) or ()) > 20


def test_charts_are_deterministic_and_buckets_follow_the_span(sample: Path) -> None:
    con = open_snapshot(sample.parent / "wh.duckdb")
    try:
        now = datetime(2026, 11, 27, tzinfo=UTC)
        data = load_report_data(con, datetime(2021, 1, 1, tzinfo=UTC), now=now)
        recent = load_report_data(con, datetime(2026, 9, 1, tzinfo=UTC), now=now)
    finally:
        con.close()
    assert data.actors.grain == "month" and data.actors.buckets[0].isoformat() == "2021-04-01"
    assert len(data.actors.series) == 8 and data.actors.series[0].id == "united_states"
    assert recent.themes.grain == "week" and all(b.weekday() == 0 for b in recent.themes.buckets)
    assert sum(recent.themes.series[0].counts) == 1  # the one relevant article since September
    first = {name: build_svg(fig, name) for name, fig in build_charts(data).items()}
    second = {name: build_svg(fig, name) for name, fig in build_charts(data).items()}
    assert first == second
    # Ids stay unique across the two charts of one page.
    ids = re.findall(r'\bid="([^"]+)"', first["actors"] + first["themes"])
    assert len(ids) == len(set(ids))
    assert build_buckets(
        datetime(2024, 11, 20, tzinfo=UTC), datetime(2025, 2, 3, tzinfo=UTC), "month"
    )[-2:] == (
        datetime(2025, 1, 1).date(),
        datetime(2025, 2, 1).date(),
    )


def test_article_text_is_escaped(sample: Path) -> None:
    con = open_snapshot(sample.parent / "wh.duckdb")
    try:
        data = load_report_data(con, datetime(2021, 1, 1, tzinfo=UTC))
    finally:
        con.close()
    evil = Story(
        story_id=1,
        article_id=1,
        title="<script>alert(1)</script> & co",
        site_name='"Outlet"<b>',
        event_at=datetime(2024, 1, 1, tzinfo=UTC),
        url='javascript:alert("x")',
        score=0.5,
        evidence=("<img src=x onerror=alert(1)>",),
        snippet="…</blockquote><script>x()</script>…",
        copies=1,
    )
    hostile: ReportData = replace(data, theme_stories=(ThemeStories("x<y", "X<y", 1, (evil,)),))
    html = build_report_html(hostile, svgs={})
    assert "<script" not in html and "<img" not in html and "javascript:" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert "&lt;/blockquote&gt;&lt;script&gt;" in html


def test_a_period_without_articles_gives_a_clear_report(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    result = sw("report", "--since", "1d", "--out", str(out), "--config", str(sample))
    assert result.returncode == 0, result.stderr
    assert "no articles in this period" in result.stdout
    html = out.read_text("utf-8")
    assert 'id="no-data"' in html and "No articles in this period" in html and "<svg" not in html
    assert "<b>20</b>articles in the warehouse" in html


def test_an_empty_warehouse_and_a_missing_snapshot(tmp_path: Path) -> None:
    config = write_config(tmp_path, [("https://example.org/feed.xml", None)])
    wh = tmp_path / "wh.duckdb"
    missing = sw("report", "--out", str(tmp_path / "x.html"), "--config", str(config))
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert "no analysts' snapshot yet" in missing.stderr and not (tmp_path / "x.html").exists()
    con = open_for_writing(wh)  # migrated, with views, and nothing in it
    try:
        publish_snapshot(con, wh)
    finally:
        con.close()
    out = tmp_path / "empty.html"
    result = sw(
        "report",
        "--since",
        "3650d",
        "--out",
        str(out),
        "--png-dir",
        str(tmp_path / "png"),
        "--config",
        str(config),
    )
    assert result.returncode == 0, result.stderr
    html = out.read_text("utf-8")
    assert "No articles in this period" in html and "No alerts created in this period" in html
    assert "last completed run never" in html
    assert not list((tmp_path / "png").glob("*.png"))  # no chart without data
    bad = sw("report", "--since", "last tuesday", "--config", str(config))
    assert bad.returncode == 1 and "--since 'last tuesday'" in bad.stderr


def _chromium() -> str:
    """Debian's chromium, which `make test` installs. CI must have it; elsewhere, skip."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing under CI; `make test` installs it (make chromium)")
    pytest.skip(f"{CHROMIUM} is not installed (`make chromium` installs Debian's package)")


def _run_chromium(*args: str) -> subprocess.CompletedProcess[bytes]:
    profile = tempfile.mkdtemp(prefix="spacewatch-chromium-")
    try:
        return subprocess.run(
            [
                _chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                f"--user-data-dir={profile}",
                *args,
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def test_chromium_renders_the_charts(sample: Path, tmp_path: Path) -> None:
    _chromium()
    out = tmp_path / "report.html"
    assert (
        sw("report", "--since", SINCE, "--out", str(out), "--config", str(sample)).returncode == 0
    )

    dom = _run_chromium("--dump-dom", out.as_uri())
    assert dom.returncode == 0, dom.stderr.decode()[-2000:]
    rendered = dom.stdout.decode("utf-8")
    charts = re.findall(r"<svg\b.*?</svg>", rendered, re.DOTALL)
    assert len(charts) == 2
    assert all(chart.count("<path") > 50 for chart in charts)
    assert "Top stories by theme" in rendered and "International Lunar Research Station" in rendered

    shot = tmp_path / "shot.png"
    result = _run_chromium("--window-size=1200,1600", f"--screenshot={shot}", out.as_uri())
    assert result.returncode == 0 and shot.exists(), result.stderr.decode()[-2000:]
    from PIL import Image

    with Image.open(shot) as image:
        rgb = image.convert("RGB")
        assert rgb.size == (1200, 1600)
        colours = rgb.getcolors(1 << 20) or []
        assert len(colours) > 50  # not a blank page
        # The bars of the first actor chart, in the palette's first colour (#0072B2).
        blue = sum(
            n
            for n, c in colours
            if abs(c[0] - 0x00) < 12 and abs(c[1] - 0x72) < 12 and abs(c[2] - 0xB2) < 12
        )
        assert blue > 200
