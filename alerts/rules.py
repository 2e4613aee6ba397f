"""Watched topics: rules over tags and keywords, matched with evidence. Pure code."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from spacewatch.seeds.tagger import TagResult


class RuleError(ValueError):
    """A topic rule that cannot be used (bad keyword expression, unknown theme...)."""


# --- keyword expressions ---------------------------------------------------------------------
# Grammar: expr := term (OR term)* ; term := factor (AND? factor)* ; factor := NOT factor |
# "(" expr ")" | "quoted phrase" | word. Matching is case-insensitive on word boundaries.

_TOKEN = re.compile(r'\s*(?:(\()|(\))|"([^"]*)"|([^\s()"]+))')

Predicate = Callable[[str], list[str]]  # lower-cased text -> the phrases that matched


def _phrase(phrase: str) -> Predicate:
    pattern = re.compile(r"(?<!\w)" + re.escape(phrase.lower()) + r"(?!\w)")

    def match(text: str) -> list[str]:
        return [phrase] if pattern.search(text) else []

    return match


def parse_keywords(expression: str) -> Predicate:
    """Compile a boolean keyword expression; raises RuleError naming the problem."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expression):
        m = _TOKEN.match(expression, pos)
        if not m or m.end() == pos:
            if expression[pos:].strip():
                raise RuleError(f"cannot read keywords at {expression[pos:]!r}")
            break
        pos = m.end()
        if m.group(1):
            tokens.append(("(", "("))
        elif m.group(2):
            tokens.append((")", ")"))
        elif m.group(3) is not None:
            tokens.append(("word", m.group(3)))
        else:
            word = m.group(4)
            kind = word.upper() if word.upper() in ("AND", "OR", "NOT") else "word"
            tokens.append((kind, word))
    index = 0

    def peek() -> str | None:
        return tokens[index][0] if index < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal index
        index += 1
        return tokens[index - 1]

    def expr() -> Predicate:
        parts = [term()]
        while peek() == "OR":
            take()
            parts.append(term())
        if len(parts) == 1:
            return parts[0]
        return lambda t: next((hits for p in parts if (hits := p(t))), [])

    def term() -> Predicate:
        parts = [factor()]
        while peek() in ("AND", "NOT", "word", "("):
            if peek() == "AND":
                take()
            parts.append(factor())
        if len(parts) == 1:
            return parts[0]

        def all_of(t: str) -> list[str]:
            hits: list[str] = []
            for p in parts:
                found = p(t)
                if not found:
                    return []
                hits += found
            return hits

        return all_of

    def factor() -> Predicate:
        kind = peek()
        if kind is None:
            raise RuleError(f"keywords end too early: {expression!r}")
        if kind == "NOT":
            take()
            inner = factor()
            return lambda t: [] if inner(t) else ["(absent)"]
        if kind == "(":
            take()
            inner = expr()
            if peek() != ")":
                raise RuleError(f"missing ')' in keywords {expression!r}")
            take()
            return inner
        if kind == "word":
            return _phrase(take()[1])
        raise RuleError(f"unexpected {tokens[index][1]!r} in keywords {expression!r}")

    if not tokens:
        raise RuleError("empty keyword expression")
    predicate = expr()
    if index != len(tokens):
        raise RuleError(f"unexpected {tokens[index][1]!r} in keywords {expression!r}")
    return predicate


# --- rules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicRule:
    id: str
    name: str
    severity: str = "info"
    themes: tuple[str, ...] = ()
    all_themes: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()
    all_actors: tuple[str, ...] = ()
    none_themes: tuple[str, ...] = ()
    none_actors: tuple[str, ...] = ()
    keywords: str | None = None
    min_relevance: float = 0.0
    min_theme_score: float = 0.0
    relevant_only: bool = True
    _keywords: Predicate | None = field(default=None, compare=False, repr=False)

    @property
    def version(self) -> str:
        """Hash of what the rule tests, not of its name: renaming does not re-alert."""
        spec = {
            k: getattr(self, k)
            for k in ("themes", "all_themes", "actors", "all_actors", "none_themes",
                      "none_actors", "keywords", "min_relevance", "min_theme_score",
                      "relevant_only")
        }  # fmt: skip
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def build_rule(spec: Mapping[str, Any]) -> TopicRule:
    known = {k: v for k, v in spec.items() if k in TopicRule.__dataclass_fields__ and k[0] != "_"}
    rule = TopicRule(**{k: tuple(v) if isinstance(v, list) else v for k, v in known.items()})
    keywords = parse_keywords(rule.keywords) if rule.keywords else None
    if not (rule.themes or rule.all_themes or rule.actors or rule.all_actors or keywords):
        raise RuleError(f"topic {rule.id!r} tests nothing: give themes, actors or keywords")
    object.__setattr__(rule, "_keywords", keywords)
    return rule


def check_rule_ids(rule: TopicRule, themes: set[str], actors: set[str]) -> None:
    for key in ("themes", "all_themes", "none_themes"):
        unknown = [t for t in getattr(rule, key) if t not in themes]
        if unknown:
            raise RuleError(f"topic {rule.id!r}: {key} names unknown theme(s) {unknown}")
    for key in ("actors", "all_actors", "none_actors"):
        unknown = [a for a in getattr(rule, key) if a not in actors]
        if unknown:
            raise RuleError(f"topic {rule.id!r}: {key} names unknown actor(s) {unknown}")


def match_topic(
    rule: TopicRule, tags: TagResult, text: str | None, title: str | None = None
) -> tuple[str, ...] | None:
    """The evidence for which this article matches the rule, or None."""
    if rule.relevant_only and not tags.relevant:
        return None
    if tags.relevance < rule.min_relevance:
        return None
    themes = {t.id: t for t in tags.themes if t.score >= rule.min_theme_score}
    actors = {a.id: a for a in tags.actors}
    if rule.none_themes and themes.keys() & set(rule.none_themes):
        return None
    if rule.none_actors and actors.keys() & set(rule.none_actors):
        return None
    evidence: list[str] = []
    if rule.themes:
        hit = [t for t in rule.themes if t in themes]
        if not hit:
            return None
        evidence += [e for t in hit for e in themes[t].evidence[:3]]
    if rule.all_themes:
        if not all(t in themes for t in rule.all_themes):
            return None
        evidence += [e for t in rule.all_themes for e in themes[t].evidence[:2]]
    if rule.actors:
        hit = [a for a in rule.actors if a in actors]
        if not hit:
            return None
        evidence += [e for a in hit for e in actors[a].evidence[:2]]
    if rule.all_actors:
        if not all(a in actors for a in rule.all_actors):
            return None
        evidence += [e for a in rule.all_actors for e in actors[a].evidence[:2]]
    if rule._keywords is not None:
        found = rule._keywords(f"{title or ''}\n{text or ''}".lower())
        if not found:
            return None
        evidence += [f for f in found if f != "(absent)"]
    return tuple(dict.fromkeys(evidence))


def match_topics(
    rules: Sequence[TopicRule], tags: TagResult, text: str | None, title: str | None = None
) -> list[tuple[TopicRule, tuple[str, ...]]]:
    matches = []
    for rule in rules:
        evidence = match_topic(rule, tags, text, title)
        if evidence is not None:
            matches.append((rule, evidence))
    return matches


@dataclass(frozen=True, slots=True)
class Subscription:
    subscriber: str
    mode: str  # immediate | digest


@dataclass(frozen=True, slots=True)
class PlannedAlert:
    topic_id: str
    rule_version: str
    story_id: int
    article_id: int
    subscriber: str
    mode: str
    severity: str
    evidence: tuple[str, ...]
    stale: str | None = None  # why it is stored but not sent (see stale_reason)


StoryTimes = Mapping[int, tuple[datetime | None, datetime]]  # story -> (published, first seen)


def plan_alerts(
    rules: Sequence[TopicRule],
    subscriptions: Mapping[str, Sequence[Subscription]],
    articles: Sequence[tuple[int, int, TagResult, str | None, str | None]],
    *,
    story_times: StoryTimes | None = None,
    now: datetime | None = None,
    max_age_h: float = 0.0,
) -> list[PlannedAlert]:
    """Alerts for new articles (article_id, story_id, tags, text, title): one per topic, story
    and subscriber, the first article of a story in the batch carrying it. A story older than
    `max_age_h` at `now` (story_times) is planned with its `stale` reason: kept, not sent."""
    planned: dict[tuple[str, int, str], PlannedAlert] = {}
    for article_id, story_id, tags, text, title in articles:
        stale = None
        if story_times is not None and now is not None and story_id in story_times:
            stale = stale_reason(*story_times[story_id], now, max_age_h)
        for rule, evidence in match_topics(rules, tags, text, title):
            for sub in subscriptions.get(rule.id, ()):
                key = (rule.id, story_id, sub.subscriber)
                planned.setdefault(
                    key,
                    PlannedAlert(
                        rule.id,
                        rule.version,
                        story_id,
                        article_id,
                        sub.subscriber,
                        sub.mode,
                        rule.severity,
                        evidence,
                        stale,
                    ),
                )
    return list(planned.values())


# --- freshness, rule descriptions, pause and mute --------------------------------------------


def stale_reason(
    published_at: datetime | None,
    first_seen_at: datetime,
    judged_at: datetime,
    max_age_h: float,
) -> str | None:
    """Why a matching story is too old to alert on, or None when it is fresh.

    A monitor alerts on what is new in the world, not on what is new to its database: the
    story's age is taken from its (earliest) publication date or, when no copy carries one,
    from when Spacewatch first saw it, and judged at the moment the pipeline matched it. The
    pipeline (warehouse/store.py) and `topics backtest` both call this, so they agree.
    `max_age_h` 0 turns the window off.
    """
    if max_age_h <= 0:
        return None
    reference = (published_at if published_at is not None else first_seen_at).astimezone(UTC)
    age_h = (judged_at - reference).total_seconds() / 3600
    if age_h <= max_age_h:
        return None
    basis = "published" if published_at is not None else "first seen"
    return (
        f"not sent: older than max_age_h ({basis} {reference:%Y-%m-%d %H:%M} UTC, "
        f"{age_h / 24:.1f} days before it matched; window {max_age_h:g} h)"
    )


def describe_rule(rule: TopicRule) -> str:
    """The rule in words, e.g. 'theme mars_crewed_landing with relevance >= 0.6, any of actors
    spacex, nasa', so a subscriber sees why a message reached them."""

    def ids(kind: str, values: tuple[str, ...], quantifier: str) -> str:
        plural = kind + "s" if len(values) > 1 else kind
        head = f"{quantifier} {plural}" if len(values) > 1 else plural
        return f"{head} {', '.join(values)}"

    parts: list[str] = []
    if rule.themes:
        parts.append(ids("theme", rule.themes, "any of"))
    if rule.all_themes:
        parts.append(ids("theme", rule.all_themes, "all of"))
    if rule.actors:
        parts.append(ids("actor", rule.actors, "any of"))
    if rule.all_actors:
        parts.append(ids("actor", rule.all_actors, "all of"))
    if rule.keywords:
        parts.append(f"keywords {rule.keywords}")
    if rule.none_themes:
        parts.append(f"none of themes {', '.join(rule.none_themes)}")
    if rule.none_actors:
        parts.append(f"none of actors {', '.join(rule.none_actors)}")
    conditions = []
    if rule.min_relevance > 0:
        conditions.append(f"relevance >= {rule.min_relevance:g}")
    if rule.min_theme_score > 0:
        conditions.append(f"theme score >= {rule.min_theme_score:g}")
    if conditions and parts:
        parts[0] += " with " + " and ".join(conditions)
    elif conditions:
        parts.append(" and ".join(conditions))
    if not rule.relevant_only:
        parts.append("including articles not judged policy-relevant")
    return ", ".join(parts)


def hold_reason(
    topic_id: str,
    paused_until: datetime | None,
    muted_topics: Sequence[str],
    now: datetime,
) -> tuple[str, str] | None:
    """(new status, note) when a subscriber's own settings keep an alert from going out now.

    Muted topics are recorded as 'muted' and never sent. While paused, alerts wait as
    'digest': nothing is lost, and the first digest after the pause carries them all instead
    of a burst of single messages.
    """
    if topic_id in muted_topics:
        return "muted", "not sent: topic muted (muted_topics in the subscriber's configuration)"
    if paused_until is not None and now < paused_until:
        return "digest", (
            f"held: subscriber paused until {paused_until.astimezone(UTC):%Y-%m-%d %H:%M} UTC; "
            "goes out in the first digest after the pause"
        )
    return None
