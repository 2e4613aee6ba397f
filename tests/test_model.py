"""The learned relevance and theme model (seeds/model.py) and how the tagger applies it."""

from __future__ import annotations

import hashlib
import os
import random
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from spacewatch.alerts.rules import build_rule, match_topic
from spacewatch.seeds import train_model
from spacewatch.seeds.model import (
    DEFAULT_MODEL_PATH,
    Model,
    ModelError,
    hash_text,
    load_model,
    save_model,
)
from spacewatch.seeds.registry import load_corpus, load_registry
from spacewatch.seeds.tagger import Tagger, build_tagger
from spacewatch.seeds.tagging import load_tagger

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
EXAMPLE_CONFIG = ROOT / "deploy" / "spacewatch.example.toml"
WATCHED = ("mars_crewed_landing", "space_force_deployment")


@cache
def shipped() -> Tagger:
    return build_tagger(load_registry(), load_corpus(), load_model())


def _model(**kw: object) -> Model:
    spec: dict[str, object] = {
        "outputs": ("relevant",),
        "signal_names": (),
        "signal_weights": np.zeros((0, 1), dtype=np.float32),
        "buckets": np.zeros(0, dtype=np.int64),
        "bucket_weights": np.zeros((0, 1), dtype=np.float32),
        "bias": np.zeros(1, dtype=np.float32),
        "thresholds": {"relevant": 0.5},
        "meta": {},
        "version": "test",
    }
    spec.update(kw)
    return Model(**spec)  # type: ignore[arg-type]


# --- the shipped file --------------------------------------------------------------------------


def test_shipped_model_is_small_packaged_and_versioned_by_its_bytes() -> None:
    data = DEFAULT_MODEL_PATH.read_bytes()
    assert len(data) < 2 * 1024 * 1024
    model = load_model()
    assert model.version == hashlib.sha256(data).hexdigest()[:12]
    assert model.outputs[0] == "relevant" and set(WATCHED) <= set(model.themes)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert "*.npz" in pyproject["tool"]["setuptools"]["package-data"]["spacewatch.seeds"]
    # The version is stamped on every tag: the tagger's, and the warehouse's tagger_version.
    result = shipped().tag("NASA wants astronauts on Mars by 2040, the administrator said.")
    assert result.model_version == model.version
    assert load_tagger()[2].endswith(f"-m{model.version[:8]}")
    assert "-m" not in load_tagger((None, None, None, "none"))[2]


# Fixed texts and what the shipped model says of them. Retraining changes these on purpose:
# re-pin them (python tests/test_model.py prints the current values) and say why in the commit.
PINNED_VERSION = "258c14118a88"
PINNED = {
    "China says a crewed mission to Mars could depart around 2033, with a surface outpost to follow, "
    "as Beijing races Washington to the red planet.": (
        "relevant=True relevance=0.83 themes=[mars_crewed_landing:0.91] actors=[china,united_states]"
    ),
    "The US Space Force activated a new unit at Al Udeid Air Base in Qatar on Friday, the service's "
    "first permanent deployment in the Middle East.": (
        "relevant=True relevance=0.86 themes=[space_force_deployment:1.00] actors=[us_space_force]"
    ),
    "Russia and China signed an agreement to build the International Lunar Research Station, "
    "Roscosmos said.": (
        "relevant=True relevance=1.00 themes=[moon_base_ilrs:1.00,international_cooperation:0.37] "
        "actors=[china,ilrs,roscosmos,russia]"
    ),
    "Bruno Mars announced new stadium dates for his world tour.": (
        "relevant=False relevance=0.00 themes=[] actors=[]"
    ),
    "NASA's Perseverance rover found organic molecules in an ancient Martian lake bed, "
    "scientists reported in Nature.": ("relevant=False relevance=0.00 themes=[] actors=[nasa]"),
    "俄罗斯和中国将共同建设国际月球科研站。": (
        "relevant=True relevance=0.97 themes=[moon_base_ilrs:1.00] actors=[china,ilrs,russia]"
    ),
    # Near-misses of issue 11: a brand called Mars, a TV drama review, a science feature.
    "Mars Inc., the maker of Snickers and M&M's, reported higher chocolate sales and said it would "
    "expand its pet food business in China.": (
        "relevant=False relevance=0.00 themes=[] actors=[china]"
    ),
    "Review: the new drama series follows a crew of astronauts on the first mission to Mars; the "
    "showrunner keeps the tension high through all eight episodes.": (
        "relevant=False relevance=0.00 themes=[] actors=[]"
    ),
    "Scientists studying hibernation in bears say torpor could one day help astronauts on long "
    "missions to Mars, according to a study in the journal Physiology.": (
        "relevant=False relevance=0.00 themes=[] actors=[]"
    ),
    # Space in passing: a long Greenland story that names Golden Dome once is not space policy.
    " ".join(
        [
            "Denmark and Greenland rejected the latest demands from Washington, the foreign minister "
            "said after talks with the Secretary of State, as NATO allies sent more troops."
        ]
        * 8
        + ["Trump has called Greenland vital to his Golden Dome missile defense system."]
    ): ("relevant=False relevance=0.00 themes=[] actors=[donald_trump]"),
}


def _verdict(text: str) -> str:
    r = shipped().tag(text, published="2025-06-01")
    themes = ",".join(f"{t.id}:{t.score:.2f}" for t in r.themes)
    actors = ",".join(sorted(a.id for a in r.actors))
    return f"relevant={r.relevant} relevance={r.relevance:.2f} themes=[{themes}] actors=[{actors}]"


def test_shipped_model_tags_fixed_texts_as_pinned() -> None:
    assert load_model().version == PINNED_VERSION, "a new model: re-pin PINNED deliberately"
    assert {text: _verdict(text) for text in PINNED} == PINNED


def test_model_file_problems_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.npz"
    with pytest.raises(ModelError, match=re.escape(f"{missing}: cannot read model file")):
        load_model(missing)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match=re.escape(f"{junk}: not a Spacewatch model file")):
        load_model(junk)
    model = load_model()
    other = tmp_path / "other.npz"
    save_model(
        other,
        outputs=model.outputs,
        signal_names=model.signal_names,
        signal_weights=model.signal_weights[:-1],  # one column short
        buckets=model.buckets,
        bucket_weights=model.bucket_weights,
        bias=model.bias,
        thresholds=model.thresholds,
        meta=model.meta,
    )
    with pytest.raises(ModelError, match=re.escape(f"{other}: weight shapes do not match")):
        load_model(other)


def test_saving_the_same_weights_twice_gives_the_same_version(tmp_path: Path) -> None:
    model = load_model()
    versions = set()
    for name in ("a.npz", "b.npz"):
        versions.add(train_model.write(model, tmp_path / name))
    assert len(versions) == 1
    assert load_model(tmp_path / "a.npz").thresholds == model.thresholds


# --- hashing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "NASA's plan — to Mars, by 2040!",
        "  ..载人登月 计划；火星。",
        "Роскосмос: пилотируемый полёт на Марс",
        "x_y 42 ü é \U00020000z a\u0301b",
        "",
        "...",
    ],
)
def test_hashed_words_are_the_regex_words(text: str) -> None:
    assert hash_text(text).text == " ".join(re.findall(r"\w+", text))


def test_hashing_does_not_depend_on_the_process() -> None:
    # Python's own str hash changes per process (PYTHONHASHSEED); the model's must not.
    code = (
        "from spacewatch.seeds.model import hash_text;"
        "h = hash_text('humans to mars, 载人登月');"
        "print(h.words.tolist(), [b.tolist() for _, b, _ in h.chars])"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1
    h = hash_text("humans to mars, 载人登月")
    assert h.words.tolist()[:3] == [252408, 63608, 31715]  # pinned: a change needs retraining
    # CJK pairs 载人 人登 登月; trigrams touching non-ASCII "s 载", " 载人", "载人登", "人登月".
    assert [len(b) for _, b, _ in h.chars] == [3, 4]


# --- how the tagger applies a model ------------------------------------------------------------

SPACEY = "NASA said on Tuesday that the satellite launch would go ahead. "


def _theme_model(word: str, weight: float = 60.0) -> Model:
    bucket = int(hash_text(word).words[0])
    outputs = ("relevant", "space_force_deployment", "mars_crewed_landing")
    return _model(
        outputs=outputs,
        signal_weights=np.zeros((0, 3), dtype=np.float32),
        buckets=np.array([bucket]),
        bucket_weights=np.array([[weight, weight, weight]], dtype=np.float32),
        bias=np.full(3, -4.0, dtype=np.float32),
        thresholds={"relevant": 0.5, "space_force_deployment": 0.5, "mars_crewed_landing": 0.5},
        meta={"registry_evidence_required": ["mars_crewed_landing"]},
    )


def test_a_theme_the_registry_missed_is_asserted_with_the_ngrams_that_raised_it() -> None:
    tagger = build_tagger(load_registry(), (), _theme_model("zorblax"))
    result = tagger.tag(SPACEY + "Officials described the zorblax in detail.")
    themes = {t.id: t for t in result.themes}
    assert result.relevant and result.model_version == "test"
    assert themes["space_force_deployment"].evidence == ("model: zorblax",)
    assert themes["space_force_deployment"].score > 0.5
    # Crewed Mars needs a registry phrase besides (precision first): none here, so not asserted.
    assert "mars_crewed_landing" not in themes
    plain = tagger.tag(SPACEY + "Officials described the plan in detail.")
    assert plain.themes == () and not plain.relevant


def test_a_registry_veto_beats_the_model() -> None:
    tagger = build_tagger(load_registry(), (), _theme_model("zorblax"))
    # "Netflix" is an exclude_when cue of both themes in seeds/themes.toml.
    result = tagger.tag(SPACEY + "Netflix described the zorblax in detail.")
    assert "space_force_deployment" not in result.theme_ids


def test_model_theme_with_registry_phrases_shows_the_phrases() -> None:
    tagger = build_tagger(load_registry(), (), _theme_model("zorblax"))
    text = SPACEY + "The zorblax will help send humans to Mars, officials said."
    themes = {t.id: t for t in tagger.tag(text).themes}
    assert "humans to mars" in themes["mars_crewed_landing"].evidence


def test_every_asserted_theme_has_evidence_on_gold_and_sample_texts() -> None:
    from spacewatch.extractors.articles import extract_article
    from spacewatch.loopback import SAMPLE_DIR

    tagger = shipped()
    texts = [(d.text, d.title) for d in train_model.load_gold()]
    for page in sorted((SAMPLE_DIR / "pages").rglob("*.html")):
        extracted = extract_article(page.read_bytes())
        texts.append((extracted.text or "", extracted.title))
    asserted = 0
    for text, title in texts:
        for theme in tagger.tag(text, title=title).themes:
            asserted += 1
            assert theme.evidence and all(e.strip() for e in theme.evidence), (theme, text[:80])
    assert asserted > 100


# --- calibration -------------------------------------------------------------------------------


def _synthetic(n: int, seed: int) -> list[train_model.LabelledText]:
    """Texts whose label is a coin flip: 80% positive with "orbital treaty", 10% without.

    Every text says "satellite" once: texts with no space vocabulary, or with space only in
    passing, are left to the registry (the model may not raise them), so calibration is a property
    of the texts the model decides on."""
    rng = random.Random(seed)
    filler = [
        "the",
        "a",
        "of",
        "officials",
        "said",
        "on",
        "year",
        "new",
        "report",
        "plan",
        "week",
        "agency",
        "people",
        "program",
    ]
    docs = []
    for i in range(n):
        cue = rng.random() < 0.5
        words = [rng.choice(filler) for _ in range(40)]
        words[rng.randrange(40)] = "satellite"
        if cue:
            words[rng.randrange(40) : 0] = ["orbital", "treaty"]
        label = rng.random() < (0.8 if cue else 0.1)
        docs.append(
            train_model.LabelledText(
                id=f"s{seed}-{i}",
                source="gold",
                text=" ".join(words),
                title=None,
                published=None,
                language="en",
                relevant=label,
                themes=frozenset(),
                labelled_themes=None,
                group=f"s{seed}-{i}",
            )
        )
    return docs


def test_scores_are_calibrated_probabilities() -> None:
    registry = load_registry()
    plain = build_tagger(registry)
    model, _ = train_model.fit(train_model.prepare(plain, _synthetic(400, 1)), registry, folds=3)
    tagger = build_tagger(registry, (), model)
    fresh = _synthetic(300, 2)
    with_cue = [tagger.tag(d.text).relevance for d in fresh if "orbital treaty" in d.text]
    without = [tagger.tag(d.text).relevance for d in fresh if "orbital treaty" not in d.text]
    # Of the texts scored about 0.8, about four in five are positive: the score is a probability.
    assert 0.68 <= float(np.mean(with_cue)) <= 0.9
    assert 0.03 <= float(np.mean(without)) <= 0.2


def test_raising_a_topic_threshold_keeps_a_subset_of_its_matches() -> None:
    tagger = shipped()
    tagged = [(d, tagger.tag(d.text, title=d.title)) for d in train_model.load_gold()]
    previous: set[str] | None = None
    for threshold in (0.0, 0.5, 0.7, 0.9, 0.99):
        rule = build_rule(
            {"id": "t", "name": "t", "themes": list(WATCHED), "min_theme_score": threshold}
        )
        matched = {d.id for d, tags in tagged if match_topic(rule, tags, d.text, d.title)}
        if previous is not None:
            assert matched <= previous
        previous = matched
    assert previous is not None


# --- watched topics ----------------------------------------------------------------------------

# Written for this test (not in any training file): the false-positive classes of issue 11.
NEVER_ALERT = {
    "brand": (
        "Mars Wrigley unveils a red planet chocolate bar",
        "The confectioner Mars Wrigley said on Monday it would launch a limited-edition Mars bar "
        "with a red wrapper and a rocket on the label, part of a marketing push timed for the "
        "holidays. Sales of its Snickers and M&M's brands rose four percent last quarter, and "
        "the company plans a new factory in Poland. 'Our fans are over the moon,' a spokeswoman "
        "said of the campaign, which includes a television advert with astronauts.",
    ),
    "tv": (
        "Review: the Mars colony drama returns for a darker season",
        "The streaming series about the first crewed landing on Mars returns on Friday, and its "
        "fourth season is its most ambitious yet. The show imagines a NASA that beat the Soviets "
        "to the Moon and went on to build a colony on Mars, and the new episodes follow the "
        "colonists through a mutiny. The cast is superb, the effects are lavish, and the "
        "writers finally give the Space Force officers on the show something to do. Critics "
        "praised the season premiere; the series has been renewed.",
    ),
    "sitcom": (
        "Space Force season two: Steve Carell's general goes to Colorado",
        "In the second season of the Netflix comedy Space Force, General Mark Naird and his team "
        "are relocated to a base in Colorado after the first season's misadventures. Steve "
        "Carell and John Malkovich return, and the sitcom keeps mocking the real US Space "
        "Force's deployment of Guardians abroad.",
    ),
    "science": (
        "Hibernating bears hold clues for long trips to Mars",
        "Researchers studying hibernating brown bears say the animals' ability to preserve "
        "muscle and bone during months of inactivity could one day help astronauts on long "
        "missions to Mars. The team, writing in a physiology journal, found that proteins in "
        "the bears' blood slow muscle loss in human cells grown in the lab. Torpor could cut "
        "the food and oxygen a crew would need on the journey, the authors said, though any "
        "human trial is years away.",
    ),
}


@cache
def example_rules() -> list:
    config = tomllib.loads(EXAMPLE_CONFIG.read_text("utf-8"))
    return [build_rule(t) for t in config["topics"]]


@pytest.mark.parametrize("kind", sorted(NEVER_ALERT))
def test_a_brand_a_show_or_a_science_feature_fires_no_watched_alert(kind: str) -> None:
    title, text = NEVER_ALERT[kind]
    tags = shipped().tag(text, title=title, published="2025-03-01")
    fired = [r.id for r in example_rules() if match_topic(r, tags, text, title) is not None]
    assert fired == [], (kind, tags.relevance, tags.theme_ids)
    assert not set(WATCHED) & set(tags.theme_ids) or not tags.relevant


# The same classes in other registry languages (written for this test).
NEVER_ALERT_ELSEWHERE = {
    "brand-de": (
        "Mars Wrigley erhöht die Preise",
        "Der Süßwarenhersteller Mars Wrigley erhöht die Preise für Schokoriegel wie Snickers und "
        "Mars. Der Umsatz stieg im letzten Quartal, und das Unternehmen plant ein neues Werk.",
    ),
    "brand-ru": (
        "Mars повышает цены на шоколад",
        "Компания Mars, производитель батончиков Snickers и Mars, повысила цены на шоколад в "
        "России. Выручка компании выросла, сообщили инвесторам.",
    ),
    "series-fr": (
        "Critique : la série qui envoie des astronautes sur Mars",
        "Cette série télévisée raconte la première mission habitée vers Mars. Les épisodes de la "
        "deuxième saison sont plus sombres, et le showrunner promet une suite.",
    ),
    "series-zh": (
        "电视剧《火星救援队》第二季开播",
        "这部电视剧讲述宇航员登陆火星的故事，第二季共十二集，观众评价很高，导演表示将拍摄续集。",
    ),
    "science-es": (
        "La hibernación de los osos y los viajes a Marte",
        "Un estudio publicado en una revista de fisiología sugiere que la hibernación de los osos "
        "podría ayudar a los astronautas en viajes largos a Marte. Los científicos analizaron "
        "proteínas en ratones y células humanas.",
    ),
}


def test_near_misses_plan_no_alert_through_the_pipeline_tagger_and_planner() -> None:
    """The alert path itself: the pipeline's tagger (registries, seed corpus, shipped model),
    every example topic subscribed, `plan_alerts` over a batch. Only the control story alerts."""
    from spacewatch.alerts.rules import Subscription, plan_alerts

    tagger = load_tagger()[0]
    rules = example_rules()
    subs = {r.id: [Subscription("analyst@example.org", "immediate")] for r in rules}
    control = (
        "China prepares crewed Mars mission for 2033",
        "China's space agency said it is preparing a crewed mission to Mars around 2033 and will "
        "build a base on the red planet, as Beijing and Washington race to land astronauts there. "
        "NASA's administrator told Congress the United States must land humans on Mars first.",
    )
    cases = {**NEVER_ALERT, **NEVER_ALERT_ELSEWHERE, "control": control}
    batch = []
    for story, (_kind, (title, text)) in enumerate(sorted(cases.items()), 1):
        tags = tagger.tag(text, title=title, published="2025-03-01")
        batch.append((story, story, tags, text, title))
    story_of = {story: kind for story, (kind, _) in enumerate(sorted(cases.items()), 1)}
    planned = plan_alerts(rules, subs, batch)
    alerted = {story_of[p.story_id] for p in planned}
    assert alerted == {"control"}, [(story_of[p.story_id], p.topic_id) for p in planned]
    assert "mars_crewed_landing" in {p.topic_id for p in planned}


def test_gold_floors_hold_with_the_model() -> None:
    floors = tomllib.loads((DATA / "gold_baseline.toml").read_text("utf-8"))
    tagger = shipped()
    counts: dict[str, list[int]] = {}
    for d in train_model.load_gold():
        r = tagger.tag(d.text, title=d.title, published=d.published)
        labels = [("relevant", d.relevant, r.relevant)]
        if r.themes_judged:
            labels += [(t, t in d.themes, t in r.theme_ids) for t in floors["themes"]]
        for label, gold, got in labels:
            c = counts.setdefault(label, [0, 0, 0])
            c[0] += gold and got
            c[1] += got and not gold
            c[2] += gold and not got

    def f1(tp: int, fp: int, fn: int) -> float:
        return 2 * tp / (2 * tp + fp + fn) if tp else 0.0

    failures = []
    for label, floor in [("relevant", floors["relevance"]["relevant"]), *floors["themes"].items()]:
        if f1(*counts[label]) < floor:
            failures.append(f"{label}: F1 {f1(*counts[label]):.3f} < {floor}")
    micro = [sum(counts[t][k] for t in floors["themes"]) for k in range(3)]
    if f1(*micro) < floors["overall"]["themes_micro"]:
        failures.append(f"themes micro F1 {f1(*micro):.3f}")
    assert not failures, failures


if __name__ == "__main__":
    print(f'PINNED_VERSION = "{load_model().version}"')
    for text in PINNED:
        print(repr(text), repr(_verdict(text)))


# --- the training script -----------------------------------------------------------------------


def test_training_script_writes_a_model_the_tagger_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m.npz"
    assert train_model.main(["--gold-only", "--no-cv", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    model = load_model(out)
    assert f"version {model.version}" in printed and "mars_crewed_landing" in model.outputs
    assert model.meta["trained_on"] == {"gold": 250, "real_dev": 0, "handwritten_dev": 0}
    assert model.meta["registry_evidence_required"] == ["mars_crewed_landing"]
    assert model.thresholds["relevant"] == 0.5
    assert all(0.3 <= t <= 0.7 for t in model.thresholds.values())
    assert (
        build_tagger(load_registry(), (), model).tag("NASA wants humans on Mars.").model_version
        == model.version
    )


def test_cross_validation_tags_each_text_with_a_model_that_never_saw_it() -> None:
    registry = load_registry()
    prepared = train_model.prepare(build_tagger(registry), _synthetic(120, 3))
    table = train_model.cross_validate(
        prepared, registry, folds=2, c=1.0, seed=7, log=lambda _: None
    )
    counts = table["model"]["all"]["relevance"]
    positives = sum(p.doc.relevant for p in prepared)
    assert counts.tp + counts.fn == positives  # every text scored exactly once, held out
    assert "relevance" in train_model.report(table, [])
