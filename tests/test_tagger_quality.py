"""Quality gate: precision/recall/F1 of the tagger on the hand-labelled gold set.

Fails when any measured F1 falls below its floor in tests/data/gold_baseline.toml. Lowering a
floor is a deliberate, reviewed edit of that file. Run this file directly to print the table:
    .venv/bin/python tests/test_tagger_quality.py
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from spacewatch.seeds.realscore import Score
from spacewatch.seeds.registry import load_corpus, load_registry
from spacewatch.seeds.tagger import Tagger, TagResult, build_tagger

DATA = Path(__file__).resolve().parent / "data"
GOLD_DIR = DATA / "gold"
BASELINE = DATA / "gold_baseline.toml"


@dataclass(frozen=True)
class GoldDoc:
    id: str
    file: str
    text: str
    title: str | None
    published: dt.date | None
    language: str
    relevant: bool
    themes: frozenset[str]
    actors: frozenset[str]


def load_gold() -> tuple[GoldDoc, ...]:
    docs = []
    for path in sorted(GOLD_DIR.glob("*.toml")):
        for d in tomllib.loads(path.read_text(encoding="utf-8"))["doc"]:
            docs.append(
                GoldDoc(
                    id=d["id"],
                    file=path.name,
                    text=d["text"],
                    title=d.get("title"),
                    published=d.get("published"),
                    language=d.get("language", "en"),
                    relevant=d["relevant"],
                    themes=frozenset(d["themes"]),
                    actors=frozenset(d["actors"]),
                )
            )
    return tuple(docs)


@cache
def _tagger() -> Tagger:
    return build_tagger(load_registry(), load_corpus())


@cache
def run() -> tuple[tuple[GoldDoc, TagResult], ...]:
    tagger = _tagger()
    return tuple((g, tagger.tag(g.text, title=g.title, published=g.published)) for g in load_gold())


def _scores(pairs: Iterable[tuple[frozenset[str], frozenset[str]]]) -> dict[str, Score]:
    tp: dict[str, int] = {}
    fp: dict[str, int] = {}
    fn: dict[str, int] = {}
    for gold, pred in pairs:
        for label in gold | pred:
            tp.setdefault(label, 0)
            fp.setdefault(label, 0)
            fn.setdefault(label, 0)
            if label in gold and label in pred:
                tp[label] += 1
            elif label in pred:
                fp[label] += 1
            else:
                fn[label] += 1
    return {k: Score(k, tp[k], fp[k], fn[k]) for k in sorted(tp)}


def _micro(label: str, scores: dict[str, Score]) -> Score:
    return Score(
        label,
        sum(s.tp for s in scores.values()),
        sum(s.fp for s in scores.values()),
        sum(s.fn for s in scores.values()),
    )


def measure() -> dict[str, dict[str, Score]]:
    results = run()
    rel = _scores(
        (
            frozenset({"relevant"} if g.relevant else ()),
            frozenset({"relevant"} if r.relevant else ()),
        )
        for g, r in results
    )
    themes = _scores((g.themes, frozenset(r.theme_ids)) for g, r in results if r.themes_judged)
    actors = _scores((g.actors, frozenset(r.actor_ids)) for g, r in results)
    return {
        "relevance": {"relevant": rel.get("relevant", Score("relevant", 0, 0, 0))},
        "themes": themes,
        "actors": actors,
        "overall": {
            "themes_micro": _micro("themes_micro", themes),
            "actors_micro": _micro("actors_micro", actors),
        },
    }


def table(measured: dict[str, dict[str, Score]]) -> str:
    lines = [
        f"{'group':10} {'label':28} {'P':>6} {'R':>6} {'F1':>6} {'supp':>5} {'fp':>4} {'fn':>4}"
    ]
    for group, scores in measured.items():
        for s in scores.values():
            lines.append(
                f"{group:10} {s.label:28} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} "
                f"{s.support:5d} {s.fp:4d} {s.fn:4d}"
            )
    return "\n".join(lines)


def errors() -> list[str]:
    out = []
    for g, r in run():
        msgs = []
        if g.relevant != r.relevant:
            msgs.append(f"relevant gold={g.relevant} got={r.relevant} ({r.relevance:.2f})")
        if r.themes_judged and set(g.themes) != set(r.theme_ids):
            msgs.append(
                f"themes missing={sorted(g.themes - set(r.theme_ids))} "
                f"extra={sorted(set(r.theme_ids) - g.themes)}"
            )
        if set(g.actors) != set(r.actor_ids):
            msgs.append(
                f"actors missing={sorted(g.actors - set(r.actor_ids))} "
                f"extra={sorted(set(r.actor_ids) - g.actors)}"
            )
        if msgs:
            out.append(f"{g.id}: " + "; ".join(msgs))
    return out


def _floors() -> dict[str, dict[str, float]]:
    return tomllib.loads(BASELINE.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------


def test_gold_set_is_well_formed() -> None:
    docs = load_gold()
    assert len(docs) >= 150
    assert len({d.id for d in docs}) == len(docs)
    registry = load_registry()
    actor_ids = {a.id for a in registry.actors}
    theme_ids = {t.id for t in registry.themes}
    for d in docs:
        assert d.actors <= actor_ids, (d.id, d.actors - actor_ids)
        assert d.themes <= theme_ids, (d.id, d.themes - theme_ids)
        assert d.published is not None, d.id
    assert sum(d.language == "ru" for d in docs) >= 10
    assert sum(d.language == "zh" for d in docs) >= 6


def test_languages_detected_and_themes_judged() -> None:
    for g, r in run():
        assert r.language == g.language, g.id
        assert r.themes_judged, g.id


def test_quality_floors() -> None:
    measured = measure()
    print("\n" + table(measured))
    floors = _floors()
    failures = []
    for group, per_label in floors.items():
        for label, floor in per_label.items():
            score = measured.get(group, {}).get(label)
            if score is None:
                failures.append(f"{group}/{label}: no gold support (floor {floor})")
            elif score.f1 < floor:
                failures.append(f"{group}/{label}: F1 {score.f1:.3f} < floor {floor:.3f}")
    # Every label the gold set measures must have a floor, so new ones cannot slip through.
    for group, per_label in measured.items():
        for label in per_label:
            if label not in floors.get(group, {}):
                failures.append(f"{group}/{label}: no floor pinned in {BASELINE.name}")
    if failures:
        pytest.fail("quality below baseline:\n" + "\n".join(failures) + "\n" + "\n".join(errors()))


if __name__ == "__main__":
    print(table(measure()))
    print()
    print("\n".join(errors()))
