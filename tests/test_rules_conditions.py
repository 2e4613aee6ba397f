"""Each topic-rule condition of the example configuration, tested so that ignoring it fails.

Found by mutation testing (make mutation): dropping `min_relevance`, `actors` or `none_themes`
from match_topic, or planning a second alert for the same story, passed every other test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from helpers import tagged
from spacewatch.alerts.rules import (
    RuleError,
    Subscription,
    build_rule,
    check_rule_ids,
    describe_rule,
    hold_reason,
    match_topic,
    parse_keywords,
    plan_alerts,
    stale_reason,
)

MOON = {"moon": (0.8, ("lunar base",))}


def test_min_relevance_keeps_out_articles_below_it_and_admits_those_at_it() -> None:
    rule = build_rule({"id": "t", "name": "T", "themes": ["moon"], "min_relevance": 0.6})
    assert match_topic(rule, tagged(relevance=0.59, themes=MOON), "x") is None
    assert match_topic(rule, tagged(relevance=0.6, themes=MOON), "x") == ("lunar base",)


def test_relevant_only_false_admits_articles_not_judged_relevant() -> None:
    spec = {"id": "t", "name": "T", "themes": ["moon"]}
    off_topic = tagged(relevant=False, relevance=0.2, themes=MOON)
    assert match_topic(build_rule(spec), off_topic, "x") is None
    assert match_topic(build_rule({**spec, "relevant_only": False}), off_topic, "x") == (
        "lunar base",
    )


def test_actors_fire_on_any_listed_actor_and_give_its_evidence() -> None:
    rule = build_rule({"id": "t", "name": "T", "actors": ["nasa", "esa"]})
    assert match_topic(rule, tagged(actors={"esa": ("ESA said",)}), "x") == ("ESA said",)
    assert match_topic(rule, tagged(actors={"cnsa": ("CNSA said",)}), "x") is None
    assert match_topic(rule, tagged(), "x") is None


def test_all_actors_need_every_listed_actor() -> None:
    rule = build_rule({"id": "t", "name": "T", "all_actors": ["nasa", "esa"]})
    both = {"nasa": ("NASA said",), "esa": ("ESA said",)}
    assert match_topic(rule, tagged(actors=both), "x") == ("NASA said", "ESA said")
    assert match_topic(rule, tagged(actors={"nasa": ("NASA said",)}), "x") is None


def test_none_themes_veto_a_match_only_when_the_theme_passes_the_score() -> None:
    rule = build_rule(
        {"id": "t", "name": "T", "themes": ["moon"], "none_themes": ["film"],
         "min_theme_score": 0.5}
    )  # fmt: skip
    assert match_topic(rule, tagged(themes=MOON), "x") == ("lunar base",)
    assert match_topic(rule, tagged(themes={**MOON, "film": (0.7, ("premiere",))}), "x") is None
    # A film theme too weak to count does not veto either.
    assert match_topic(rule, tagged(themes={**MOON, "film": (0.2, ("premiere",))}), "x") == (
        "lunar base",
    )


def test_min_theme_score_counts_a_theme_at_the_score_and_not_below() -> None:
    rule = build_rule({"id": "t", "name": "T", "themes": ["moon"], "min_theme_score": 0.5})
    assert match_topic(rule, tagged(themes={"moon": (0.5, ("lunar",))}), "x") == ("lunar",)
    assert match_topic(rule, tagged(themes={"moon": (0.49, ("lunar",))}), "x") is None


def test_evidence_is_capped_per_theme_and_actor_and_not_repeated() -> None:
    """A message shows why it matched: three phrases per theme, two per actor, no repeats."""
    rule = build_rule({"id": "t", "name": "T", "themes": ["moon"], "actors": ["nasa"]})
    tags = tagged(
        themes={"moon": (0.9, ("a", "b", "c", "d"))},
        actors={"nasa": ("NASA said", "a", "NASA added")},
    )
    assert match_topic(rule, tags, "x") == ("a", "b", "c", "NASA said")
    rule = build_rule({"id": "t", "name": "T", "all_themes": ["moon"], "all_actors": ["nasa"]})
    assert match_topic(rule, tags, "x") == ("a", "b", "NASA said")


def test_keywords_are_matched_in_the_title_too() -> None:
    rule = build_rule({"id": "t", "name": "T", "keywords": "artemis"})
    assert match_topic(rule, tagged(), "nothing here", title="Artemis slips") == ("artemis",)
    assert match_topic(rule, tagged(), "nothing here", title="Other news") is None
    negated = build_rule({"id": "t", "name": "T", "keywords": "NOT artemis"})
    assert match_topic(negated, tagged(), "nothing here") == ()  # matched, no phrase to show


def test_a_rule_that_tests_nothing_is_refused() -> None:
    with pytest.raises(RuleError, match="tests nothing"):
        build_rule({"id": "t", "name": "T", "none_themes": ["film"], "min_relevance": 0.5})
    for key in ("themes", "all_themes", "actors", "all_actors"):
        assert build_rule({"id": "t", "name": "T", key: ["x"]}).id == "t"


@pytest.mark.parametrize(
    ("key", "kind"),
    [("themes", "theme"), ("all_themes", "theme"), ("none_themes", "theme"),
     ("actors", "actor"), ("all_actors", "actor"), ("none_actors", "actor")],
)  # fmt: skip
def test_every_list_naming_an_unknown_id_is_a_rule_error(key: str, kind: str) -> None:
    rule = build_rule({"id": "t", "name": "T", "keywords": "x", key: ["nope"]})
    with pytest.raises(RuleError, match=rf"{key} names unknown {kind}"):
        check_rule_ids(rule, {"moon"}, {"nasa"})
    check_rule_ids(build_rule({"id": "t", "name": "T", "keywords": "x"}), {"moon"}, {"nasa"})


NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_plan_alerts_one_per_topic_story_and_subscriber_first_article_carries_it() -> None:
    rules = [
        build_rule({"id": "moon", "name": "Moon", "themes": ["moon"], "severity": "high"}),
        build_rule({"id": "esa", "name": "ESA", "actors": ["esa"]}),
    ]
    subs = {
        "moon": [Subscription("ann", "immediate"), Subscription("bob", "digest")],
        "esa": [Subscription("ann", "immediate")],
    }
    moon = tagged(themes=MOON)
    articles = [(10, 1, moon, "t", None), (11, 1, moon, "t", None), (12, 2, tagged(), "t", None)]
    planned = plan_alerts(rules, subs, articles)
    assert [(p.topic_id, p.story_id, p.article_id, p.subscriber, p.mode) for p in planned] == [
        ("moon", 1, 10, "ann", "immediate"),
        ("moon", 1, 10, "bob", "digest"),
    ]
    assert {p.severity for p in planned} == {"high"}
    assert {p.rule_version for p in planned} == {rules[0].version}
    assert {p.evidence for p in planned} == {("lunar base",)}
    assert {p.stale for p in planned} == {None}


def test_plan_alerts_marks_an_old_story_stale_and_keeps_a_fresh_one_sendable() -> None:
    rule = build_rule({"id": "moon", "name": "Moon", "themes": ["moon"]})
    subs = {"moon": [Subscription("ann", "immediate")]}
    moon = tagged(themes=MOON)
    times = {1: (NOW - timedelta(days=5), NOW), 2: (None, NOW - timedelta(hours=1))}
    planned = plan_alerts(
        [rule], subs, [(10, 1, moon, "t", None), (20, 2, moon, "t", None)],
        story_times=times, now=NOW, max_age_h=48,
    )  # fmt: skip
    stale = {p.story_id: p.stale for p in planned}
    assert stale[1] is not None and "older than max_age_h" in stale[1]
    assert stale[2] is None


def test_hold_reason_mutes_and_pauses_only_while_the_pause_lasts() -> None:
    status, note = hold_reason("moon", None, ["moon"], NOW)
    assert status == "muted" and "muted" in note
    assert hold_reason("moon", None, ["mars"], NOW) is None
    status, note = hold_reason("moon", NOW + timedelta(hours=1), [], NOW)
    assert status == "digest" and "2026-03-01 13:00 UTC" in note
    assert hold_reason("moon", NOW, [], NOW) is None  # the pause has just ended
    assert hold_reason("moon", NOW - timedelta(hours=1), [], NOW) is None


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ('moon "open', "cannot read keywords at ' \"open'"),
        ("lunar AND", "keywords end too early: 'lunar AND'"),
        ("(moon OR mars", "missing ')' in keywords '(moon OR mars'"),
        ("moon )", "unexpected ')' in keywords 'moon )'"),
        ("OR moon", "unexpected 'OR' in keywords 'OR moon'"),
        ("  ", "empty keyword expression"),
    ],
)
def test_a_bad_keyword_expression_is_refused_naming_the_problem(
    expression: str, problem: str
) -> None:
    with pytest.raises(RuleError) as caught:
        parse_keywords(expression)
    assert str(caught.value) == problem


@pytest.mark.parametrize(
    ("expression", "text", "phrases"),
    [
        ("lunar station", "the lunar research station", ["lunar", "station"]),
        ("moon NOT film", "moon base plans", ["moon", "(absent)"]),
        ("moon NOT film", "the moon film", []),
        ("moon (base OR station)", "a moon station", ["moon", "station"]),
        ("moon (base OR station)", "a moon landing", []),
        ("  moon  ", "the moon", ["moon"]),
    ],
)
def test_words_side_by_side_all_count_and_all_are_evidence(
    expression: str, text: str, phrases: list[str]
) -> None:
    """Juxtaposed words, NOT and brackets are ANDed; every phrase found is evidence."""
    assert parse_keywords(expression)(text) == phrases


def test_describe_rule_names_every_condition() -> None:
    rule = build_rule(
        {"id": "t", "name": "T", "themes": ["moon", "mars"], "all_actors": ["nasa", "esa"],
         "none_themes": ["film", "game"], "none_actors": ["x", "y"], "min_relevance": 0.7,
         "min_theme_score": 0.5}
    )  # fmt: skip
    assert describe_rule(rule) == (
        "any of themes moon, mars with relevance >= 0.7 and theme score >= 0.5, "
        "all of actors nasa, esa, none of themes film, game, none of actors x, y"
    )
    single = build_rule({"id": "t", "name": "T", "all_actors": ["nasa"], "min_theme_score": 0.4})
    assert describe_rule(single) == "actor nasa with theme score >= 0.4"


def test_stale_reason_names_its_basis_and_age_and_keeps_the_window_edge_fresh() -> None:
    published = (NOW - timedelta(hours=72)).astimezone(timezone(timedelta(hours=2)))
    assert stale_reason(published, NOW, NOW, 48) == (
        "not sent: older than max_age_h (published 2026-02-26 12:00 UTC, "
        "3.0 days before it matched; window 48 h)"
    )
    assert stale_reason(None, NOW - timedelta(hours=36), NOW, 24) == (
        "not sent: older than max_age_h (first seen 2026-02-28 00:00 UTC, "
        "1.5 days before it matched; window 24 h)"
    )
    assert stale_reason(NOW - timedelta(hours=48), NOW, NOW, 48) is None  # exactly at the edge
    # A window under an hour is a window too; only 0 turns it off.
    assert stale_reason(NOW - timedelta(hours=1), NOW, NOW, 0.5) is not None
    assert stale_reason(NOW - timedelta(days=900), NOW, NOW, 0) is None


def test_plan_alerts_matches_keywords_in_the_title() -> None:
    rule = build_rule({"id": "artemis", "name": "A", "keywords": "artemis"})
    subs = {"artemis": [Subscription("ann", "immediate")]}
    articles = [(1, 1, tagged(), "no word here", "Artemis slips"), (2, 2, tagged(), "x", "y")]
    planned = plan_alerts([rule], subs, articles)
    assert [(p.story_id, p.evidence) for p in planned] == [(1, ("artemis",))]


def test_evidence_gathers_every_condition_that_matched() -> None:
    rule = build_rule(
        {"id": "t", "name": "T", "themes": ["moon"], "all_themes": ["mars"], "keywords": "orbit"}
    )
    tags = tagged(themes={"moon": (0.9, ("lunar",)), "mars": (0.9, ("red planet",))})
    assert match_topic(rule, tags, "in orbit") == ("lunar", "red planet", "orbit")


def test_plan_alerts_reads_keywords_in_the_text_and_skips_topics_nobody_follows() -> None:
    rules = [
        build_rule({"id": "artemis", "name": "A", "keywords": "artemis"}),
        build_rule({"id": "orphan", "name": "O", "keywords": "artemis"}),
    ]
    subs = {"artemis": [Subscription("ann", "immediate")]}  # nobody follows "orphan"
    planned = plan_alerts(rules, subs, [(1, 1, tagged(), "Artemis slips", "Title")])
    assert [(p.topic_id, p.evidence) for p in planned] == [("artemis", ("artemis",))]


def test_a_story_without_known_times_is_not_stale() -> None:
    rule = build_rule({"id": "moon", "name": "Moon", "themes": ["moon"]})
    subs = {"moon": [Subscription("ann", "immediate")]}
    moon = tagged(themes=MOON)
    times = {1: (NOW - timedelta(hours=2), NOW)}  # story 2 has none
    planned = plan_alerts(
        [rule], subs, [(10, 1, moon, "t", None), (20, 2, moon, "t", None)],
        story_times=times, now=NOW,
    )  # fmt: skip
    # No max_age_h: no window, so even the two-hour-old story goes out.
    assert [(p.story_id, p.stale) for p in planned] == [(1, None), (2, None)]


def test_one_second_past_the_window_is_stale() -> None:
    assert stale_reason(NOW - timedelta(hours=48, seconds=1), NOW, NOW, 48) is not None


@pytest.fixture
def tokyo_clock() -> Iterator[None]:
    """The process's local zone set to UTC+9, as on an operator's machine far from UTC."""
    saved = time.tzname, time.timezone
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "Asia/Tokyo")
        time.tzset()
        assert datetime(2026, 1, 1, tzinfo=UTC).astimezone().utcoffset() == timedelta(hours=9)
        yield
    time.tzset()
    assert (time.tzname, time.timezone) == saved


@pytest.mark.usefixtures("tokyo_clock")
def test_notes_give_times_in_utc_whatever_the_machines_zone() -> None:
    assert stale_reason(None, NOW - timedelta(hours=36), NOW, 24) == (
        "not sent: older than max_age_h (first seen 2026-02-28 00:00 UTC, "
        "1.5 days before it matched; window 24 h)"
    )
    assert hold_reason("moon", NOW + timedelta(hours=1), [], NOW) == (
        "digest",
        "held: subscriber paused until 2026-03-01 13:00 UTC; "
        "goes out in the first digest after the pause",
    )
    assert hold_reason("moon", None, ["moon"], NOW) == (
        "muted",
        "not sent: topic muted (muted_topics in the subscriber's configuration)",
    )
