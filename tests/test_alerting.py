"""Topic rules (pure) and the alert outbox written by the pipeline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import query, sample_feeds, write_config
from spacewatch.alerts.rules import RuleError, build_rule, match_topic, parse_keywords
from spacewatch.flows import pipeline
from spacewatch.loopback import LoopbackServer
from spacewatch.seeds.tagger import ActorMention, TagResult, ThemeTag

SPACEWATCH = str(Path(sys.executable).with_name("spacewatch"))


def tags(relevant: bool = True, themes: dict[str, float] | None = None, actors: tuple[str, ...] = ()) -> TagResult:
    return TagResult(
        language="en",
        themes_judged=True,
        relevant=relevant,
        relevance=0.9 if relevant else 0.1,
        themes=tuple(ThemeTag(t, s, (f"{t} phrase",)) for t, s in (themes or {}).items()),
        actors=tuple(ActorMention(a, a, "agency", 1, (f"{a} said",), ((0, 1),), ("alias",)) for a in actors),
        seed_similarity=(),
        seed_similarity_max=0.0,
        registry_version="test",
    )


@pytest.mark.parametrize(
    ("expression", "text", "hit"),
    [
        ("lunar AND station", "a lunar research station", True),
        ("lunar station", "the lunar base", False),
        ('"anti-satellite" OR asat', "an ASAT test", True),
        ("moon AND NOT (game OR film)", "the moon film premiere", False),
        ("moon AND NOT (game OR film)", "moon base plans", True),
        ("mars", "marshall plan", False),
    ],
)
def test_keyword_expressions(expression: str, text: str, hit: bool) -> None:
    assert bool(parse_keywords(expression)(text.lower())) is hit


@pytest.mark.parametrize("expression", ["lunar AND", "(moon OR mars", "moon )", "", "OR moon"])
def test_bad_keyword_expressions_are_rule_errors(expression: str) -> None:
    with pytest.raises(RuleError):
        parse_keywords(expression)


def test_themes_alone_fire_on_any_listed_theme_with_evidence() -> None:
    rule = build_rule({"id": "sfd", "name": "SFD", "themes": ["space_force_deployment"]})
    assert match_topic(rule, tags(themes={"space_force_deployment": 0.4}), "text") == ("space_force_deployment phrase",)
    assert match_topic(rule, tags(themes={"moon_base_ilrs": 0.9}), "text") is None
    assert match_topic(rule, tags(relevant=False, themes={"space_force_deployment": 0.9}), "text") is None


def test_all_none_scores_and_keywords() -> None:
    rule = build_rule(
        {"id": "t", "name": "T", "all_themes": ["moon_base_ilrs", "international_cooperation"],
         "none_actors": ["esa"], "min_theme_score": 0.5, "keywords": "roadmap OR agreement"}
    )
    both = {"moon_base_ilrs": 0.8, "international_cooperation": 0.6}
    assert match_topic(rule, tags(themes=both), "the roadmap was signed") is not None
    assert match_topic(rule, tags(themes=both), "nothing relevant") is None
    assert match_topic(rule, tags(themes=both, actors=("esa",)), "roadmap") is None
    assert match_topic(rule, tags(themes={**both, "international_cooperation": 0.3}), "roadmap") is None


def test_rule_version_ignores_name_but_not_conditions() -> None:
    a = build_rule({"id": "t", "name": "One", "themes": ["moon_base_ilrs"]})
    b = build_rule({"id": "t", "name": "Two", "themes": ["moon_base_ilrs"]})
    c = build_rule({"id": "t", "name": "One", "themes": ["moon_base_ilrs"], "min_relevance": 0.5})
    assert a.version == b.version != c.version


def test_unknown_theme_in_a_topic_is_a_config_error_before_anything_runs(tmp_path: Path) -> None:
    config = write_config(tmp_path, [("https://example.org/feed", None)], topics='id = "x"\nname = "X"\nthemes = ["lunar_golf"]')
    config.write_text(config.read_text().replace("[topics]", "[[topics]]"), encoding="utf-8")
    result = subprocess.run([SPACEWATCH, "run", "--config", str(config)], capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert result.returncode == 2
    assert f"{config}: [[topics]] #1 (x): topic 'x': themes names unknown theme(s) ['lunar_golf']" in result.stderr
    assert not (tmp_path / "wh.duckdb").exists()


TOPICS = """
[alerts]
max_age_h = 0  # the sample's stories are years old: alert on them all

[[topics]]
id = "lunar_station"
name = "Lunar station"
themes = ["moon_base_ilrs"]

[[topics]]
id = "space_force_deployment"
name = "Space Force deployments"
themes = ["space_force_deployment"]
severity = "warning"

[[subscribers]]
name = "desk"
urls = ["json://127.0.0.1:9/hook"]
topics = ["lunar_station", "space_force_deployment"]

[[subscribers]]
name = "weekly"
urls = ["json://127.0.0.1:9/other"]
topics = ["lunar_station"]
mode = "digest"
"""


@pytest.mark.usefixtures("prefect_harness")
def test_pipeline_writes_one_alert_per_topic_story_and_subscriber(tmp_path: Path, sample_server: LoopbackServer) -> None:
    config = write_config(tmp_path, sample_feeds(sample_server.base_url))
    config.write_text(config.read_text() + TOPICS, encoding="utf-8")
    wh = tmp_path / "wh.duckdb"
    summary = pipeline.run_pipeline(config)

    rows = query(wh, "SELECT topic_id, story_id, subscriber, status, mode FROM alerts")
    keys = [(t, s, sub) for t, s, sub, _, _ in rows]
    assert len(keys) == len(set(keys)) == summary.alerts_new > 0
    # The wire story carried by three outlets is one lunar-station story: one alert each.
    ilrs_story = query(wh, "SELECT story_id FROM articles WHERE title LIKE 'Russia and China unveil%' LIMIT 1")[0][0]
    assert sorted(r[2:] for r in rows if r[0] == "lunar_station" and r[1] == ilrs_story) == [
        ("desk", "pending", "immediate"),
        ("weekly", "digest", "digest"),
    ]
    # Deployments alert; the TV comedy does not.
    titles = {t for (t,) in query(wh, "SELECT a.title FROM alerts JOIN articles a USING (article_id) WHERE topic_id = 'space_force_deployment'")}
    assert any("Space Force" in t for t in titles)
    assert not any("comedy" in t for t in titles)
    # Evidence is stored; URLs never are.
    assert query(wh, "SELECT count(*) FROM alerts WHERE len(evidence) = 0") == [(0,)]
    assert query(wh, "SELECT count(*) FROM alerts WHERE subscriber LIKE '%://%'") == [(0,)]



def test_outbox_keeps_one_alert_per_topic_story_subscriber_whatever_the_rule_version(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from spacewatch.alerts.rules import PlannedAlert
    from spacewatch.warehouse.alerts import insert_alerts
    from spacewatch.warehouse.connect import open_for_writing

    con = open_for_writing(tmp_path / "wh.duckdb")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    first = PlannedAlert("lunar", "v1", 7, 7, "desk", "immediate", "info", ("lunar station",))
    assert insert_alerts(con, [first], now) == 1
    # Same story reached again (a copy, another feed, or a new rule version): nothing new.
    again = PlannedAlert("lunar", "v2", 7, 9, "desk", "immediate", "info", ("lunar base",))
    assert insert_alerts(con, [again], now) == 0
    other = PlannedAlert("lunar", "v2", 7, 9, "weekly", "digest", "info", ("lunar base",))
    assert insert_alerts(con, [other], now) == 1
    rows = con.execute("SELECT subscriber, rule_version, article_id, status FROM alerts ORDER BY alert_id").fetchall()
    con.close()
    assert rows == [("desk", "v1", 7, "pending"), ("weekly", "v2", 9, "digest")]
