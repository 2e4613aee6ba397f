"""Registry loading: the bundled files, the id contract, and errors that name file and line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from spacewatch.seeds.registry import (
    DEFAULT_ACTORS_PATH,
    DEFAULT_THEMES_PATH,
    RegistryError,
    load_corpus,
    load_registry,
)

REQUIRED_ACTORS = {
    "nasa", "roscosmos", "cnsa", "cmsa", "esa", "isro", "jaxa", "drdo", "spacex", "blue_origin",
    "us_space_force", "us_space_command", "elon_musk", "dmitry_rogozin", "yuri_borisov",
    "jared_isaacman", "bill_nelson", "united_states", "russia", "china", "india", "israel", "japan",
}  # fmt: skip
REQUIRED_THEMES = {
    "mars_crewed_landing", "moon_base_ilrs", "artemis_gateway", "space_militarization",
    "space_force_deployment", "space_resources", "launch_competition",
    "international_cooperation", "space_law_policy",
}  # fmt: skip

MINIMAL_ACTORS = """\
[[role]]
id = "agency_head"
org = "agency"
name = "Head of the agency"
phrases = ["head of the agency"]

[[actor]]
id = "agency"
name = "Agency"
kind = "agency"
aliases = ["Agency"]

[[actor]]
id = "boss"
name = "Boss"
kind = "person"
aliases = ["Boss"]
roles = [{ role = "agency_head", from = "2020-01", until = "2021-06-30" }]
"""

MINIMAL_THEMES = """\
[settings]
threshold = 0.5

[[theme]]
id = "things"
description = "Things"

[theme.phrases.en]
"thing" = 3
"""


def _write(tmp_path: Path, actors: str = MINIMAL_ACTORS, themes: str = MINIMAL_THEMES):
    a, t = tmp_path / "actors.toml", tmp_path / "themes.toml"
    a.write_text(actors, encoding="utf-8")
    t.write_text(themes, encoding="utf-8")
    return a, t


def _error(tmp_path: Path, **files: str) -> RegistryError:
    a, t = _write(tmp_path, **files)
    with pytest.raises(RegistryError) as exc:
        load_registry(a, t)
    return exc.value


def _line_of(text: str, needle: str, nth: int = 1) -> int:
    seen = 0
    for no, line in enumerate(text.splitlines(), 1):
        if needle in line:
            seen += 1
            if seen == nth:
                return no
    raise AssertionError(needle)


def test_bundled_registry_meets_the_id_contract() -> None:
    reg = load_registry()
    assert {a.id for a in reg.actors} >= REQUIRED_ACTORS
    assert {t.id for t in reg.themes} >= REQUIRED_THEMES
    assert {a.kind for a in reg.actors} == {
        "agency",
        "company",
        "military",
        "person",
        "country",
        "programme",
    }
    assert reg.theme_languages == {
        "en", "ru", "de", "fr", "es", "it", "pt", "ja", "ko", "zh", "ar", "hi"
    }  # fmt: skip
    for alias in [
        "Роскосмос",
        "Рогозин",
        "Дмитрий Рогозин",
        "中国载人航天",
        "中国国家航天局",
        "马斯克",
        "Маск",
        "НАСА",
    ]:
        assert any(alias in a.aliases for a in reg.actors), alias


def test_role_periods_follow_each_other() -> None:
    reg = load_registry()
    rogozin, borisov = reg.actor("dmitry_rogozin"), reg.actor("yuri_borisov")
    assert rogozin.roles[0].start == dt.date(2018, 5, 25)
    assert rogozin.roles[0].end is not None and rogozin.roles[0].end < borisov.roles[0].start
    nelson, isaacman = reg.actor("bill_nelson"), reg.actor("jared_isaacman")
    assert nelson.roles[0].covers(dt.date(2022, 1, 1))
    assert isaacman.roles[0].start == dt.date(2025, 12, 1) and isaacman.roles[0].end is None


def test_version_is_short_stable_and_content_based(tmp_path: Path) -> None:
    assert load_registry().version == load_registry().version
    a, t = _write(tmp_path)
    v1 = load_registry(a, t).version
    assert len(v1) == 12
    t.write_text(MINIMAL_THEMES + '"another thing" = 1\n', encoding="utf-8")
    assert load_registry(a, t).version != v1


def test_minimal_files_load(tmp_path: Path) -> None:
    reg = load_registry(*_write(tmp_path))
    boss = reg.actor("boss")
    assert boss.roles[0].start == dt.date(2020, 1, 1)
    assert boss.roles[0].end == dt.date(2021, 6, 30)
    assert reg.threshold == 0.5 and reg.saturation == 3.0


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    broken = MINIMAL_THEMES.replace('"thing" = 3', '"thing" = = 3')
    err = _error(tmp_path, themes=broken)
    assert err.path.endswith("themes.toml")
    assert err.line == _line_of(broken, '"thing" = = 3')
    assert str(err).startswith(f"{tmp_path / 'themes.toml'}:{err.line}:")


def test_missing_key_names_the_block(tmp_path: Path) -> None:
    broken = MINIMAL_ACTORS.replace('kind = "person"\n', "")
    err = _error(tmp_path, actors=broken)
    assert "missing required key 'kind'" in str(err)
    assert err.line == _line_of(broken, "[[actor]]", nth=2)


def test_unknown_key_names_its_line(tmp_path: Path) -> None:
    broken = MINIMAL_ACTORS.replace('kind = "agency"\n', 'kind = "agency"\nalias = ["A"]\n')
    err = _error(tmp_path, actors=broken)
    assert "unknown key 'alias'" in str(err)
    assert err.line == _line_of(broken, 'alias = ["A"]')


def test_wrong_type_names_its_line(tmp_path: Path) -> None:
    broken = MINIMAL_ACTORS.replace('aliases = ["Boss"]', 'aliases = "Boss"')
    err = _error(tmp_path, actors=broken)
    assert "'aliases' must be a list of strings" in str(err)
    assert err.line == _line_of(broken, 'aliases = "Boss"')


def test_bad_kind(tmp_path: Path) -> None:
    broken = MINIMAL_ACTORS.replace('kind = "person"', 'kind = "wizard"')
    err = _error(tmp_path, actors=broken)
    assert "kind 'wizard'" in str(err) and err.line == _line_of(broken, 'kind = "wizard"')


def test_duplicate_id_points_at_the_second(tmp_path: Path) -> None:
    broken = MINIMAL_ACTORS.replace('id = "boss"', 'id = "agency"')
    err = _error(tmp_path, actors=broken)
    assert "duplicate actor id 'agency'" in str(err)
    assert err.line == _line_of(broken, 'id = "agency"', nth=2)


def test_duplicate_theme_id(tmp_path: Path) -> None:
    broken = (
        MINIMAL_THEMES + '\n[[theme]]\nid = "things"\ndescription = "x"\n'
        '[theme.phrases.en]\n"other" = 1\n'
    )
    err = _error(tmp_path, themes=broken)
    assert "duplicate theme id" in str(err) and err.line == _line_of(broken, 'id = "things"', 2)


def test_bad_date_names_its_line(tmp_path: Path) -> None:
    broken = MINIMAL_ACTORS.replace('until = "2021-06-30"', 'until = "2021-13"')
    err = _error(tmp_path, actors=broken)
    assert "'until'" in str(err) and "2021-13" in str(err)
    assert err.line == _line_of(broken, "2021-13")


def test_role_ending_before_start(tmp_path: Path) -> None:
    broken = MINIMAL_ACTORS.replace('until = "2021-06-30"', 'until = "2019-06-30"')
    assert "ends before it starts" in str(_error(tmp_path, actors=broken))


def test_unknown_role_and_org(tmp_path: Path) -> None:
    broken = MINIMAL_ACTORS.replace('role = "agency_head"', 'role = "nobody"')
    err = _error(tmp_path, actors=broken)
    assert "unknown role 'nobody'" in str(err) and err.line == _line_of(broken, "nobody")
    broken = MINIMAL_ACTORS.replace('org = "agency"', 'org = "ghost"')
    err = _error(tmp_path, actors=broken)
    assert "org 'ghost'" in str(err) and err.line == _line_of(broken, 'org = "ghost"')


def test_alias_clash_between_actors(tmp_path: Path) -> None:
    broken = MINIMAL_ACTORS.replace('aliases = ["Boss"]', 'aliases = ["agency"]')
    err = _error(tmp_path, actors=broken)
    assert "also an alias of 'agency'" in str(err)


def test_bad_weight_and_duplicate_phrase(tmp_path: Path) -> None:
    broken = MINIMAL_THEMES.replace('"thing" = 3', '"thing" = "high"')
    err = _error(tmp_path, themes=broken)
    assert "weight of 'thing'" in str(err) and err.line == _line_of(broken, '"thing" = "high"')
    broken = MINIMAL_THEMES + '"Thing" = 1\n'
    err = _error(tmp_path, themes=broken)
    assert "duplicates" in str(err) and err.line == _line_of(broken, '"Thing" = 1')


def test_unknown_top_level_table(tmp_path: Path) -> None:
    broken = MINIMAL_THEMES + "\n[extras]\nx = 1\n"
    err = _error(tmp_path, themes=broken)
    assert "unknown key 'extras'" in str(err) and err.line == _line_of(broken, "[extras]")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RegistryError) as exc:
        load_registry(tmp_path / "nope.toml", DEFAULT_THEMES_PATH)
    assert "nope.toml" in str(exc.value)


def test_bundled_files_are_the_defaults() -> None:
    reg = load_registry()
    assert reg.actors_path == str(DEFAULT_ACTORS_PATH)
    assert reg.themes_path == str(DEFAULT_THEMES_PATH)


def test_corpus_skips_readme(tmp_path: Path) -> None:
    names = [d.name for d in load_corpus()]
    assert "brand-new-space-race.txt" in names and "README.md" not in names
    (tmp_path / "README.md").write_text("ignore me")
    (tmp_path / "b.md").write_text("second")
    (tmp_path / "a.txt").write_text("first")
    (tmp_path / "c.json").write_text("{}")
    assert [(d.name, d.text) for d in load_corpus(tmp_path)] == [
        ("a.txt", "first"),
        ("b.md", "second"),
    ]
    assert load_corpus(tmp_path / "missing") == ()


def test_overlapping_office_holders_are_rejected(tmp_path: Path) -> None:
    broken = MINIMAL_ACTORS + (
        '\n[[actor]]\nid = "rival"\nname = "Rival"\nkind = "person"\naliases = ["Rival"]\n'
        'roles = [{ role = "agency_head", from = "2021-01" }]\n'
    )
    err = _error(tmp_path, actors=broken)
    assert "overlaps with 'boss'" in str(err)
    assert err.line == _line_of(broken, 'roles = [{ role = "agency_head", from = "2021-01" }]')
    # A handover on the same day is fine.
    ok = broken.replace('from = "2021-01" }', 'from = "2021-06-30" }')
    assert load_registry(*_write(tmp_path, actors=ok)).actor("rival").roles
