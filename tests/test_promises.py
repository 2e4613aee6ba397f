"""Documented promises, each checked so that it fails without the promised behaviour.

docs/promises.md lists every promise and the test that proves it; the ones without a better
home are here. Each was checked by planting the bug it guards against (see that table).
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import query, sample_feeds, tagged, write_config
from spacewatch.alerts.redact import mask_secrets, secret_parts, url_label
from spacewatch.alerts.rules import match_topics
from spacewatch.alerts.topics import load_rules
from spacewatch.config import load_config
from spacewatch.extractors import dedupe
from spacewatch.extractors.models import Article
from spacewatch.flows import pipeline
from spacewatch.loopback import LoopbackServer
from spacewatch.seeds.tagging import load_tagger
from spacewatch.warehouse import store
from spacewatch.warehouse.connect import open_for_writing

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


# -- topic rules: every condition of deploy/spacewatch.example.toml, through the config -------



MOON = {"moon_base_ilrs": 0.8}
# (topic keys as written in the config, tags that match, tags that differ only in what the
# condition tests and must not match). Ignoring the condition would let the second match.
CONDITIONS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "themes": (
        'themes = ["moon_base_ilrs"]',
        {"themes": MOON},
        {"themes": {"artemis_gateway": 0.8}},
    ),
    "all_themes": (
        'all_themes = ["moon_base_ilrs", "international_cooperation"]',
        {"themes": {**MOON, "international_cooperation": 0.6}},
        {"themes": MOON},
    ),
    "actors": (
        'actors = ["roscosmos", "cnsa"]',
        {"themes": MOON, "actors": ("cnsa",)},
        {"themes": MOON, "actors": ("esa",)},
    ),
    "all_actors": (
        'all_actors = ["roscosmos", "cnsa"]',
        {"themes": MOON, "actors": ("roscosmos", "cnsa")},
        {"themes": MOON, "actors": ("roscosmos",)},
    ),
    "none_themes": (
        'themes = ["moon_base_ilrs"]\nnone_themes = ["space_militarization"]',
        {"themes": MOON},
        {"themes": {**MOON, "space_militarization": 0.7}},
    ),
    "none_actors": (
        'themes = ["moon_base_ilrs"]\nnone_actors = ["esa"]',
        {"themes": MOON, "actors": ("nasa",)},
        {"themes": MOON, "actors": ("nasa", "esa")},
    ),
    "keywords": (
        "keywords = 'lunar AND (base OR station) AND NOT game'",
        {"text": "A lunar research station by 2035."},
        {"text": "A lunar base in a new video game."},
    ),
    "min_relevance": (
        'themes = ["moon_base_ilrs"]\nmin_relevance = 0.6',
        {"themes": MOON, "relevance": 0.7},
        {"themes": MOON, "relevance": 0.5},
    ),
    "min_theme_score": (
        'themes = ["moon_base_ilrs"]\nmin_theme_score = 0.5',
        {"themes": {"moon_base_ilrs": 0.6}},
        {"themes": {"moon_base_ilrs": 0.4}},
    ),
    "relevant_only": (
        'themes = ["moon_base_ilrs"]',  # the default, true
        {"themes": MOON},
        {"themes": MOON, "relevant": False},
    ),
}


def rules_from_config(tmp_path: Path, body: str, extra: str = "") -> tuple:
    topic = f'[[topics]]\nid = "t"\nname = "T"\nseverity = "critical"\n{body}\n{extra}'
    path = write_config(tmp_path, [("http://127.0.0.1:9/feed.xml", None)])
    path.write_text(path.read_text("utf-8") + "\n" + topic, encoding="utf-8")
    config = load_config(path)
    rules, _ = load_rules(config, load_tagger(config.tagging_paths())[1])
    return rules


def fires(rules: tuple, case: dict[str, Any]) -> bool:
    case = dict(case)
    text = case.pop("text", "Plans for the station.")
    themes = {t: (s, (f"{t} phrase",)) for t, s in case.pop("themes", {}).items()}
    actors = {a: (f"{a} said",) for a in case.pop("actors", ())}
    return bool(match_topics(rules, tagged(themes=themes, actors=actors, **case), text, "Title"))


@pytest.mark.parametrize("condition", sorted(CONDITIONS))
def test_each_documented_rule_condition_decides_a_match(tmp_path: Path, condition: str) -> None:
    body, matching, failing = CONDITIONS[condition]
    rules = rules_from_config(tmp_path, body)
    assert rules[0].severity == "critical"
    assert fires(rules, matching)
    assert not fires(rules, failing)


def test_relevant_only_false_lets_an_irrelevant_article_match(tmp_path: Path) -> None:
    rules = rules_from_config(tmp_path, 'themes = ["moon_base_ilrs"]', "relevant_only = false")
    assert fires(rules, {"themes": MOON, "relevant": False})


def test_every_rule_condition_of_the_example_config_is_covered() -> None:
    example = (Path(__file__).parents[1] / "deploy" / "spacewatch.example.toml").read_text()
    block = example.split("# [[topics]]", 1)[1].split("\n\n", 1)[0]
    keys = {line[2:].split("=")[0].strip() for line in block.splitlines() if " = " in line}
    assert keys - {"id", "name", "severity"} == set(CONDITIONS)


# -- stories: a copy joins the most similar story, the earliest of equally similar ones -------


def synthetic(url: str, values: list[int]) -> Article:
    """An article whose MinHash signature is given directly, so similarities are exact."""
    sig = np.array(values, dtype="<u4").tobytes()
    return Article(url, url, url, None, NOW, "en", None, None, url, "trafilatura", "ok", 200,
                   None, url, 100, sig)  # fmt: skip


def test_a_copy_joins_the_earliest_of_equally_similar_stories(tmp_path: Path) -> None:
    half = dedupe.NUM_PERM // 2
    early, late = [1] * dedupe.NUM_PERM, [2] * dedupe.NUM_PERM  # nothing in common
    # The copy matches each half-way; the later story's bands come first among its candidates.
    copy = synthetic("c", [2] * half + [1] * half)
    con = open_for_writing(tmp_path / "wh.duckdb")
    try:
        stories, _ = store.assign_stories(
            con,
            [synthetic("a", early), synthetic("b", late), copy],
            [10, 11, 12],
            threshold=0.5,
            min_words=40,
        )
        assert stories == [10, 11, 10]
        # More similar beats earlier: three quarters like the later story.
        closer = synthetic("d", [2] * (3 * half // 2) + [1] * (half // 2))
        stories, _ = store.assign_stories(
            con,
            [synthetic("a", early), synthetic("b", late), closer],
            [10, 11, 12],
            threshold=0.25,  # both stories qualify: a quarter and three quarters alike
            min_words=40,
        )
        assert stories == [10, 11, 11]
    finally:
        con.close()


# -- feeds: the same URL listed twice is one feed, and the last name wins -------------------


def test_a_feed_listed_twice_is_one_feed_named_by_its_last_entry(tmp_path: Path) -> None:
    con = open_for_writing(tmp_path / "wh.duckdb")
    try:
        url = "https://example.org/feed.xml"
        feeds = store.sync_feeds(
            con, [(url, "First name"), ("https://other.example/rss", "Other"), (url, "Last name")],
            NOW,
        )  # fmt: skip
        assert sorted((f.url, f.name) for f in feeds) == [
            ("https://example.org/feed.xml", "Last name"),
            ("https://other.example/rss", "Other"),
        ]
        # And again on a later sync: the stored name follows the last entry.
        feeds = store.sync_feeds(con, [(url, "Last name"), (url, "Renamed")], NOW)
        assert [(f.url, f.name, f.active) for f in feeds if f.url == url] == [
            (url, "Renamed", True)
        ]
    finally:
        con.close()


# -- spacewatch.topic.matched: one event per new match, as a real Prefect server records it --

EVENT_TOPICS = """
[alerts]
max_age_h = 0

[[topics]]
id = "promise_lunar"
name = "Lunar stations (events test)"
themes = ["moon_base_ilrs"]

[[topics]]
id = "promise_sfd"
name = "Space Force deployments (events test)"
themes = ["space_force_deployment"]

[[subscribers]]
name = "desk"
urls = ["json://127.0.0.1:9/hook"]
topics = ["promise_lunar", "promise_sfd"]
mode = "digest"
"""


def matched_events(
    topics: list[str], want: int, name: str = "spacewatch.topic.matched"
) -> list[Any]:
    """The server's `name` events for these topics, once `want` arrived (the client sends them
    in the background and the server stores them in batches)."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    flt = EventFilter(
        event=EventNameFilter(name=[name]),
        resource=EventResourceFilter(id=[f"spacewatch.topic.{t}" for t in topics]),
    )
    deadline = time.monotonic() + 120  # a bound on waiting, not a measurement
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_events(filter=flt, limit=50)
            events = list(page.events)
            while page.next_page:
                page = client.read_events_page(page.next_page)
                events += page.events
            if len(events) >= want or time.monotonic() > deadline:
                return events
            time.sleep(0.5)


@pytest.mark.usefixtures("prefect_harness")
def test_each_new_match_is_one_topic_matched_event_on_the_server(
    tmp_path: Path, sample_server: LoopbackServer
) -> None:
    config = write_config(tmp_path, sample_feeds(sample_server.base_url))
    config.write_text(config.read_text() + EVENT_TOPICS, encoding="utf-8")
    summary = pipeline.run_pipeline(config)
    wh = tmp_path / "wh.duckdb"
    alerts = query(wh, "SELECT DISTINCT topic_id, story_id, article_id FROM alerts ORDER BY ALL")
    assert {t for t, _, _ in alerts} == {"promise_lunar", "promise_sfd"}
    events = matched_events(["promise_lunar", "promise_sfd"], len(alerts))
    seen = sorted(
        (e.payload["topic"], e.payload["story_id"], e.payload["article_id"]) for e in events
    )
    assert seen == [tuple(a) for a in alerts]
    assert summary.alerts_new == len(alerts)  # one subscriber: one alert per match
    names = {e.resource.id: e.resource.name for e in events}
    assert names == {
        "spacewatch.topic.promise_lunar": "Lunar stations (events test)",
        "spacewatch.topic.promise_sfd": "Space Force deployments (events test)",
    }
    # A second run matches nothing new, so it emits nothing new.
    again = pipeline.run_pipeline(config)
    assert again.alerts_new == 0
    # A marker sent after it, through the same client: once the server has the marker, it has
    # whatever the second run sent before it.
    from prefect.events import emit_event

    emit_event(
        event="spacewatch.test.marker",
        resource={"prefect.resource.id": "spacewatch.topic.promise_marker"},
    )
    assert len(matched_events(["promise_marker"], 1, name="spacewatch.test.marker")) == 1
    assert len(matched_events(["promise_lunar", "promise_sfd"], 0)) == len(alerts)


# -- destination masking: a URL that does not parse still leaks nothing ----------------------


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:6]


@pytest.mark.parametrize(
    ("url", "label", "secrets"),
    [
        # No scheme a URL could have: named only by a hash of the whole entry.
        ("hooks.example/TOKEN-SECRET-1", "invalid-url#", ["TOKEN-SECRET-1"]),
        ("1json://hooks.example/TOKEN-SECRET-1", "invalid-url#", ["TOKEN-SECRET-1"]),
        # urlsplit refuses these (a broken IPv6 literal, a port out of range): no host shown,
        # and every piece of the URL is masked, even quoted alone.
        ("json://[::1/TOKEN-SECRET-1", "json#", ["TOKEN-SECRET-1"]),
        ("json://user:pa55word@[::1/x?token=abc123", "json#", ["pa55word", "abc123"]),
        ("json://hooks.example:99999/TOKEN-SECRET-1", "json#", ["TOKEN-SECRET-1"]),
    ],
)
def test_an_invalid_url_is_labelled_and_masked_without_its_secret(
    url: str, label: str, secrets: list[str]
) -> None:
    assert url_label(url) == label + digest(url)
    reason = f"could not send to {url}: refused ({' '.join(secrets)})"
    masked = mask_secrets(reason, secret_parts(url))
    assert masked == f"could not send to ***: refused ({' '.join(['***'] * len(secrets))})"


# -- alert retries: the documented delays, by value ----------------------------------------


def test_failed_alert_retries_after_base_doubling_to_the_cap_then_fails(tmp_path: Path) -> None:
    from datetime import timedelta

    from spacewatch.alerts.delivery import deliver_due

    config = write_config(tmp_path, [("http://127.0.0.1:9/feed.xml", None)])
    config.write_text(
        config.read_text()
        + "\n[alerts]\ntimeout_s = 10\nmin_interval_s = 0\nmax_age_h = 0\n"
        + "retry_base_s = 60\nretry_max_s = 200\nmax_attempts = 4\n"
        + '\n[[topics]]\nid = "lunar"\nname = "Lunar"\nthemes = ["moon_base_ilrs"]\n'
        # Port 9 on loopback refuses the connection: every attempt fails at once.
        + '\n[[subscribers]]\nname = "desk"\nurls = ["json://127.0.0.1:9/hook"]\n'
        + 'topics = ["lunar"]\n',
        encoding="utf-8",
    )
    cfg = load_config(config)
    con = open_for_writing(cfg.warehouse_path)
    try:
        con.execute(
            """INSERT INTO articles (article_id, canonical_url, url, story_id, first_seen_at,
                   extraction_method, title) VALUES (1, 'https://x/1', 'https://x/1', 1, ?,
                   'none', 'Lunar base plans')""",
            [NOW],
        )
        con.execute(
            """INSERT INTO alerts (topic_id, rule_version, story_id, article_id, subscriber,
                   mode, severity, evidence, status, created_at, next_attempt_at)
               VALUES ('lunar', 'v1', 1, 1, 'desk', 'immediate', 'info', ['lunar base'],
                   'pending', ?, ?)""",
            [NOW, NOW],
        )

        def state() -> tuple:
            return con.execute("SELECT status, attempts, next_attempt_at FROM alerts").fetchone()

        at = NOW
        seen = []
        # 60 s after the first failure, doubling (120 s), then capped at 200 s (not 240 s).
        for delay in (60, 120, 200):
            summary = deliver_due(con, cfg, at)
            assert (summary.sent, summary.retrying) == (0, 1)
            seen.append(state())
            early = deliver_due(con, cfg, at + timedelta(seconds=delay - 1))
            assert (early.sent, early.retrying, early.failed) == (0, 0, 0)  # not due yet
            at += timedelta(seconds=delay)
        last = deliver_due(con, cfg, at)
        assert last.failed == 1
        seen.append(state())
    finally:
        con.close()
    assert seen == [
        ("pending", 1, NOW + timedelta(seconds=60)),
        ("pending", 2, NOW + timedelta(seconds=60 + 120)),
        ("pending", 3, NOW + timedelta(seconds=60 + 120 + 200)),
        ("failed", 4, None),
    ]


# -- politeness: `min_interval_s` is the pause Apprise keeps between two messages ------------


def test_min_interval_is_apprises_pause_between_messages_by_value(tmp_path: Path) -> None:
    from spacewatch.alerts.sending import _apprise_for

    apprise_file = tmp_path / "apprise.txt"
    apprise_file.write_text("json://127.0.0.1:9/from-config\n", encoding="utf-8")
    cache: dict = {}
    for target in ("json://127.0.0.1:9/hook", f"config:{apprise_file}"):
        paced = _apprise_for(target, 5.5, cache)
        assert [p.request_rate_per_sec for p in paced] == [5.5], target
    # None keeps Apprise's own default for the plugin, untouched.
    default = _apprise_for("json://127.0.0.1:9/hook", None, cache)
    import apprise

    own = apprise.Apprise.instantiate("json://127.0.0.1:9/hook").request_rate_per_sec
    assert [p.request_rate_per_sec for p in default] == [own]
