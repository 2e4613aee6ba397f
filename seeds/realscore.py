"""How well a tagger does on the real-text set: tag each labelled item as the pipeline would, then
count agreements. Shared by `bench/tagger_real.py` (the figures) and
`tests/test_realset_quality.py` (the floors), so both measure the same thing.

Conventions:
- Themes are scored on every item: a text whose language the tagger cannot judge predicts no
  themes (counted as misses), since that is what an analyst gets.
- "alert" scores a watched theme as an alert rule with `relevant_only` sees it: predicted when the
  tagger reports the theme AND calls the text relevant; expected when the label has the theme.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from spacewatch.seeds.realset import LabelledItem

WATCHED = (
    "mars_crewed_landing",
    "moon_base_ilrs",
    "artemis_gateway",
    "space_militarization",
    "space_force_deployment",
)


@dataclass(frozen=True, slots=True)
class Prediction:
    relevant: bool
    themes: frozenset[str]
    actors: frozenset[str]
    themes_judged: bool
    language: str


@dataclass(frozen=True, slots=True)
class Score:
    label: str
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def support(self) -> int:
        return self.tp + self.fn

    def as_dict(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "support": self.support,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass(frozen=True, slots=True)
class Summary:
    """Headline figures for one group of items (all, one language, one origin)."""

    n: int
    relevance: Score
    themes_micro: Score  # all nine themes
    watched_micro: Score  # the five watched themes
    actors_micro: Score
    themes_not_judged: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "relevance": self.relevance.as_dict(),
            "themes_micro": self.themes_micro.as_dict(),
            "watched_micro": self.watched_micro.as_dict(),
            "actors_micro": self.actors_micro.as_dict(),
            "themes_not_judged": self.themes_not_judged,
        }


@dataclass(frozen=True, slots=True)
class Report:
    overall: Summary
    themes: tuple[Score, ...]  # per theme, watched first
    alerts: tuple[Score, ...]  # watched themes as a relevant_only alert rule sees them
    actors: tuple[Score, ...]
    by_language: tuple[tuple[str, Summary], ...]
    by_origin: tuple[tuple[str, Summary], ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.as_dict(),
            "themes": {s.label: s.as_dict() for s in self.themes},
            "alerts": {s.label: s.as_dict() for s in self.alerts},
            "actors": {s.label: s.as_dict() for s in self.actors},
            "by_language": {k: v.as_dict() for k, v in self.by_language},
            "by_origin": {k: v.as_dict() for k, v in self.by_origin},
        }


def predict(tagger: Any, item: LabelledItem) -> Prediction:
    """Tag one item the way the pipeline tags an article (text, title unless repeated, date)."""
    # Imported here: flows depends on seeds, not the other way round at import time.
    from spacewatch.seeds.tagging import title_unless_repeated

    result = tagger.tag(
        item.text,
        title=title_unless_repeated(item.title, item.text) if item.text else item.title,
        published=item.published,
    )
    return Prediction(
        relevant=bool(result.relevant),
        themes=frozenset(result.theme_ids),
        actors=frozenset(result.actor_ids),
        themes_judged=bool(result.themes_judged),
        language=str(result.language),
    )


def count(label: str, pairs: Iterable[tuple[bool, bool]]) -> Score:
    """Score of one label from (expected, predicted) pairs."""
    tp = fp = fn = 0
    for expected, predicted in pairs:
        if expected and predicted:
            tp += 1
        elif predicted:
            fp += 1
        elif expected:
            fn += 1
    return Score(label, tp, fp, fn)


def per_label(
    pairs: Sequence[tuple[frozenset[str], frozenset[str]]], labels: Iterable[str]
) -> tuple[Score, ...]:
    return tuple(count(lb, ((lb in g, lb in p) for g, p in pairs)) for lb in labels)


def micro(label: str, scores: Iterable[Score]) -> Score:
    scores = list(scores)
    return Score(
        label, sum(s.tp for s in scores), sum(s.fp for s in scores), sum(s.fn for s in scores)
    )


def summarise(
    results: Sequence[tuple[LabelledItem, Prediction]], theme_ids: Sequence[str]
) -> Summary:
    themes = per_label([(i.themes, p.themes) for i, p in results], theme_ids)
    actor_ids = sorted({a for i, p in results for a in i.actors | p.actors})
    actors = per_label([(i.actors, p.actors) for i, p in results], actor_ids)
    return Summary(
        n=len(results),
        relevance=count("relevant", ((i.relevant, p.relevant) for i, p in results)),
        themes_micro=micro("themes_micro", themes),
        watched_micro=micro("watched_micro", (s for s in themes if s.label in WATCHED)),
        actors_micro=micro("actors_micro", actors),
        themes_not_judged=sum(1 for _, p in results if not p.themes_judged),
    )


def report(results: Sequence[tuple[LabelledItem, Prediction]], theme_ids: Sequence[str]) -> Report:
    """Every figure of `bench/tagger_real.py` for these results; `theme_ids` from the registry."""
    ordered = [t for t in WATCHED if t in theme_ids] + sorted(
        t for t in theme_ids if t not in WATCHED
    )
    pairs = [(i.themes, p.themes) for i, p in results]
    alert_pairs = [(i.themes, p.themes if p.relevant else frozenset()) for i, p in results]
    actor_ids = sorted({a for i, p in results for a in i.actors | p.actors})

    def groups(key: Callable[[LabelledItem], str]) -> tuple[tuple[str, Summary], ...]:
        keys = sorted({key(i) for i, _ in results})
        return tuple(
            (k, summarise([(i, p) for i, p in results if key(i) == k], ordered)) for k in keys
        )

    return Report(
        overall=summarise(results, ordered),
        themes=per_label(pairs, ordered),
        alerts=per_label(alert_pairs, [t for t in WATCHED if t in theme_ids]),
        actors=per_label([(i.actors, p.actors) for i, p in results], actor_ids),
        by_language=groups(lambda i: i.language),
        by_origin=groups(lambda i: i.origin),
    )
