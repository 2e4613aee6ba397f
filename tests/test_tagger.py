"""Tagger behaviour: roles by date, metonyms, exclusions, languages, robustness, discovery."""

from __future__ import annotations

import datetime as dt
import random
from functools import cache

import pytest

from spacewatch.extractors.language import LANGUAGES, detect_language
from spacewatch.seeds.registry import load_corpus, load_registry
from spacewatch.seeds.tagger import (
    MAX_TEXT_CHARS,
    Tagger,
    TagResult,
    build_tagger,
    discover_candidates,
)


@cache
def tagger() -> Tagger:
    return build_tagger(load_registry(), load_corpus())


def tag(text: str, **kw) -> TagResult:
    return tagger().tag(text, **kw)


def actors(text: str, **kw) -> set[str]:
    return set(tag(text, **kw).actor_ids)


def themes(text: str, **kw) -> set[str]:
    return set(tag(text, **kw).theme_ids)


# -- roles ----------------------------------------------------------------------------------

HEAD = "The head of Roscosmos said the agency would keep flying to the station."


@pytest.mark.parametrize(
    ("published", "person"),
    [
        (dt.date(2017, 6, 1), "igor_komarov"),
        (dt.date(2020, 6, 1), "dmitry_rogozin"),
        (dt.date(2022, 7, 14), "dmitry_rogozin"),
        (dt.date(2022, 7, 15), "yuri_borisov"),
        (dt.date(2023, 3, 1), "yuri_borisov"),
        (dt.date(2025, 3, 1), "dmitry_bakanov"),
    ],
)
def test_role_phrase_resolves_by_date(published: dt.date, person: str) -> None:
    found = actors(HEAD, published=published)
    assert {"roscosmos", person} <= found
    others = {"igor_komarov", "dmitry_rogozin", "yuri_borisov", "dmitry_bakanov"} - {person}
    assert not found & others


@pytest.mark.parametrize(
    ("published", "person"),
    [
        (dt.date(2019, 5, 1), "jim_bridenstine"),
        (dt.date(2022, 5, 1), "bill_nelson"),
        (dt.date(2026, 1, 20), "jared_isaacman"),
        (dt.date(2025, 6, 1), None),  # between confirmed administrators: nobody to credit
    ],
)
def test_nasa_administrator_by_date(published: dt.date, person: str | None) -> None:
    people = {"jim_bridenstine", "bill_nelson", "jared_isaacman"}
    found = actors("NASA administrator warns Congress about China.", published=published)
    assert found & people == ({person} if person else set())


def test_role_mention_carries_evidence_and_span() -> None:
    text = "On Monday the Roscosmos chief mocked the rover landing."
    res = tag(text, published="2021-02-20")
    rogozin = next(a for a in res.actors if a.id == "dmitry_rogozin")
    assert rogozin.via == ("role",)
    ((start, end),) = rogozin.spans
    assert text[start:end] == "Roscosmos chief"
    assert "Dmitry Rogozin" in rogozin.evidence[0]


def test_role_not_resolved_without_date_or_for_former_holders() -> None:
    assert "yuri_borisov" not in actors(HEAD)
    text = "A former head of Roscosmos was wounded in Donetsk."
    assert not actors(text, published=dt.date(2023, 1, 1)) & {"yuri_borisov", "dmitry_rogozin"}


def test_explicit_name_beats_the_date() -> None:
    text = "Roscosmos chief Dmitry Rogozin said Russians would be waiting on Mars."
    found = actors(text, published=dt.date(2023, 1, 1))
    assert "dmitry_rogozin" in found and "yuri_borisov" not in found
    text = "NASA's chief diplomat said the landing made India a partner."
    assert "bill_nelson" not in actors(text, published=dt.date(2023, 8, 24))


def test_russian_role_phrase() -> None:
    text = "Глава Роскосмоса заявил, что Россия продолжит полёты."
    assert {"roscosmos", "dmitry_rogozin", "russia"} <= actors(text, published=dt.date(2019, 1, 1))
    assert "yuri_borisov" in actors(text, published=dt.date(2024, 1, 1))


# -- metonyms -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Moscow announced a new lunar programme.",
        "Beijing has accused the United States of militarising space.",  # china via Beijing
        "Washington wants allies to sign the accords.",
        "The Kremlin said the test posed no threat.",
        "Analysts said Beijing's plan is ambitious.",
        "Relations between Moscow and Washington remain tense.",
    ],
)
def test_metonym_acting_counts(text: str) -> None:
    found = actors(text)
    expected = {
        "Moscow": "russia", "Kremlin": "russia", "Beijing": "china", "Washington": "united_states"
    }  # fmt: skip
    for city, country in expected.items():
        if city in text:
            assert country in found, (text, found)


@pytest.mark.parametrize(
    "text",
    [
        "WASHINGTON — Consumer prices rose less than expected in May.",
        "MOSCOW (Reuters) - Shares rose on Monday.",
        "Delegates at a conference in Beijing discussed supply chains.",
        "She flew to Moscow for an astronomy festival.",
        "A Washington think tank published a report on rockets.",
        "Prices in Tokyo fell to a 15-month low.",
    ],
)
def test_metonym_as_place_or_dateline_does_not_count(text: str) -> None:
    assert not actors(text) & {"russia", "china", "united_states", "japan"}


def test_dateline_then_agent_in_same_text() -> None:
    text = "MOSCOW (Reuters) - The space agency met on Monday.\n\nMoscow announced a lunar base."
    res = tag(text)
    russia = next(a for a in res.actors if a.id == "russia")
    assert russia.mentions == 1 and russia.via == ("metonym",)
    start, end = russia.spans[0]
    assert text[start:end] == "Moscow" and start > 10


def test_russian_metonym_idiom() -> None:
    assert "russia" in actors("В Кремле заявили, что испытание было плановым.")
    assert "russia" not in actors("В Москве открылась выставка о космонавтике.")


# -- exclusions and near misses -------------------------------------------------------------


def test_near_misses_are_not_policy() -> None:
    cases = [
        "Bruno Mars will play eight more nights in Las Vegas; fans hope he reaches Mars first "
        "in the charts.",
        "Hundreds of millions of people travel for the Lunar New Year holiday; shops sell "
        "decorations for the lunar festival.",
        "President Biden relaunched the Cancer Moonshot to cut cancer deaths by half.",
        "Steve Carell stars in Space Force, the Netflix comedy about a general ordered to put "
        "boots on the Moon and build a lunar base before China.",
        "Iron Dome interceptors shot down rockets fired from Gaza toward Israeli cities.",
        "The Pacific islands are drifting into China's orbit of influence, diplomats say.",
    ]
    for text in cases:
        res = tag(text)
        assert not res.relevant, text
        assert not res.themes, (text, res.theme_ids)


def test_space_force_show_does_not_credit_the_service() -> None:
    text = "Netflix renewed Space Force; Steve Carell returns to fight the Pentagon."
    assert not actors(text) & {"us_space_force", "us_dod"}
    assert "us_space_force" in actors("The Space Force deployed its first unit to Qatar.")


def test_compound_demonyms_are_excluded() -> None:
    assert "united_states" not in actors("The Asian American community and North American fans.")
    assert "india" not in actors("A cyclone formed over the Indian Ocean.")
    assert "united_states" in actors("American officials said the US would respond.")


def test_rover_alone_is_not_a_crewed_mars_landing() -> None:
    text = (
        "NASA's Perseverance rover landed in Jezero crater on Mars to look for signs of ancient "
        "life. The rover will cache samples on the red planet."
    )
    assert "mars_crewed_landing" not in themes(text)
    assert "mars_crewed_landing" in themes(
        "The agency wants to land humans on Mars in the 2030s, ahead of China's crewed Mars plans."
    )


def test_themes_have_evidence_and_scores() -> None:
    res = tag(
        "Russia tested an anti-satellite missile, and the Pentagon called space a war-fighting "
        "domain. Russia and China signed a memorandum on the International Lunar Research Station."
    )
    ids = res.theme_ids
    assert "space_militarization" in ids and "moon_base_ilrs" in ids
    for t in res.themes:
        assert 0.5 <= t.score <= 1 and t.evidence
    mil = next(t for t in res.themes if t.id == "space_militarization")
    assert "anti-satellite" in mil.evidence


# -- languages ------------------------------------------------------------------------------


def test_multilingual_aliases() -> None:
    assert {"roscosmos", "dmitry_rogozin"} <= actors("Дмитрий Рогозин возглавил Роскосмос.")
    assert "elon_musk" in actors("Илон Маск ответил Рогозину.")
    assert {"cnsa", "cmsa", "elon_musk"} <= actors("中国国家航天局和中国载人航天表示，马斯克")
    assert "nasa" in actors("НАСА и Роскосмос подписали соглашение.")
    assert "russia" in actors("Россией и США")


def test_chinese_themes_judged_in_either_script() -> None:
    simplified = (
        "中国国家航天局与俄罗斯国家航天集团公司签署了关于合作建设国际月球科研站的谅解备忘录。"
    )
    traditional = (
        "中國國家航天局與俄羅斯國家航天集團公司簽署了關於合作建設國際月球科研站的諒解備忘錄。"
    )
    for text in (simplified, traditional):
        res = tag(text)
        assert res.language == "zh" and res.themes_judged
        assert {"moon_base_ilrs", "international_cooperation"} <= set(res.theme_ids), text
        assert {"cnsa", "roscosmos", "ilrs"} <= set(res.actor_ids), text


def test_russian_themes_are_judged() -> None:
    res = tag("Министерство обороны России провело испытание противоспутникового оружия.")
    assert res.language == "ru" and res.themes_judged
    assert "space_militarization" in res.theme_ids


def test_language_detection() -> None:
    assert detect_language("The head of Roscosmos said on Monday that the station") == "en"
    assert detect_language("Глава Роскосмоса заявил в понедельник") == "ru"
    assert detect_language("中国国家航天局表示") == "zh"
    assert detect_language("Le chef de la NASA a déclaré que la mission") == "fr"
    assert detect_language("日本の宇宙航空研究開発機構は月面に着陸した") == "ja"
    assert detect_language("") == "other"
    assert tag("NASA", language="en").language == "en"


def test_other_language_is_honest() -> None:
    # Dutch has no phrase lists: actors are still found, themes only through shared names.
    res = tag("NASA en SpaceX maakten bekend dat de missie naar de maan wordt uitgesteld tot 2027.")
    assert res.language == "other" and not res.themes_judged
    assert {"nasa", "spacex"} <= set(res.actor_ids)
    res = tag("De ILRS is het maanonderzoeksstation dat China en Rusland samen willen bouwen.")
    assert res.language == "other" and "moon_base_ilrs" in res.theme_ids


# -- spans, title, seeds --------------------------------------------------------------------


def test_spans_point_into_the_text_not_the_title() -> None:
    text = "Russia  and\n\nChina   agreed.\tThe  International\nSpace Station stays."
    res = tag(text, title="Russia and China")
    for a in res.actors:
        for s, e in a.spans:
            assert text[s:e].split()[0] in {"Russia", "China", "International"}
    iss = next(a for a in res.actors if a.id == "iss")
    s, e = iss.spans[0]
    assert " ".join(text[s:e].split()) == "International Space Station"
    russia = next(a for a in res.actors if a.id == "russia")
    assert russia.mentions == 2 and len(russia.spans) == 1


def test_seed_similarity() -> None:
    seed = next(d for d in load_corpus() if d.name == "brand-new-space-race.txt")
    res = tag(seed.text)
    assert res.seed_similarity[0][0] == "brand-new-space-race.txt"
    assert res.seed_similarity_max > 0.95
    other = tag("Astronomers found a new galaxy with the telescope.")
    assert other.seed_similarity_max < 0.3
    assert build_tagger(load_registry()).tag(seed.text).seed_similarity == ()


def test_results_are_frozen_and_versioned() -> None:
    res = tag("NASA")
    with pytest.raises(AttributeError):
        res.relevant = True  # type: ignore[misc]
    assert res.registry_version == load_registry().version


# -- robustness -----------------------------------------------------------------------------


def test_never_crashes_on_junk() -> None:
    rng = random.Random(1234)
    samples: list[object] = [
        "", " ", "\x00" * 50, "\n\n\n", "*" * 1000, "İİİ NASA İstanbul", "ß" * 10, "Ǆ",
        "\ud800", "MOSCOW", "Moscow", "— — —", "NASA administrator", "head of Roscosmos",
        b"\xff\xfe binary \x00 NASA", None, 12345, "a" * (MAX_TEXT_CHARS + 10),
        "美国" * 1000, "Росси" * 500, "🚀" * 300, "U.S.", "US-", "'s", "*", "Space Forces",
        "وال" * 50, "ناسا" * 30, "ि" * 20, "इसरो" * 30, "NASAの" * 40, "國國國", "ㄱ" * 9,
    ]  # fmt: skip
    alphabet = "abcXYZ .,-—\n'’«»ёЁ中国美国國ΑΩ🚀\x00\t\u3000\u2028İوالناسिरोの우주"
    for _ in range(300):
        samples.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200))))
    for s in samples:
        for kw in ({}, {"published": dt.date(2021, 1, 1), "title": s}, {"published": "garbage"}):
            res = tagger().tag(s, **kw)
            assert 0.0 <= res.relevance <= 1.0
            assert res.language in LANGUAGES
            text = s if isinstance(s, str) else ""
            for a in res.actors:
                for start, end in a.spans:
                    assert 0 <= start < end <= max(len(text), MAX_TEXT_CHARS)


def test_huge_text_is_truncated_not_fatal() -> None:
    text = ("Russia tested an anti-satellite weapon. " * 20_000)[: MAX_TEXT_CHARS * 2]
    res = tag(text)
    assert res.truncated and "space_militarization" in res.theme_ids


# -- discovery ------------------------------------------------------------------------------


def test_discover_candidates() -> None:
    texts = [
        (
            "a1",
            "Russia and China said the Lunar Polar Consortium would build a lunar base with "
            "the Lunar Polar Consortium. Roscosmos chief Dmitry Rogozin agreed.",
        ),
        (
            "a2",
            "The Lunar Polar Consortium signed a memorandum of understanding on the "
            "International Lunar Research Station; Moscow announced support.",
        ),
        ("a3", "Astronomers found a galaxy. The Lunar Polar Consortium was not mentioned."),
        ("a4", "Taylor Swift released an album; Lunar Polar Consortium fans cheered."),
    ]
    found = discover_candidates(tagger(), texts, min_documents=2)
    names = {c.name: c for c in found}
    assert "Lunar Polar Consortium" in names
    c = names["Lunar Polar Consortium"]
    assert c.documents == 2 and c.count == 3 and c.examples == ("a1", "a2")
    # Known names are never candidates.
    assert not {"Dmitry Rogozin", "International Lunar Research Station"} & set(names)
    everything = discover_candidates(tagger(), [t for _, t in texts], only_relevant=False)
    assert next(c for c in everything if c.name == "Lunar Polar Consortium").documents == 4


def test_no_space_vocabulary_means_no_themes() -> None:
    res = tag(
        "The Pentagon asked lawmakers for a bigger shipbuilding budget, and Congress is expected to "
        "pass the legislation before the appropriations deadline, defence officials said."
    )
    assert not res.relevant and res.themes == ()
    # Space-specific words in any judged language keep themes on.
    assert "space_militarization" in themes(
        "Минобороны провело испытание противоспутникового оружия и обвинило США в милитаризации."
    )
