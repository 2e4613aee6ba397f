"""Actor and theme registries (TOML) and the seed corpus, loaded into frozen dataclasses.

Every problem in a registry file raises `RegistryError` naming the file and the line, so an
operator editing the TOML by hand can go straight to the mistake.

About 600 lines on purpose: one file format (actors, themes, scripts and their checks) with one
error type; splitting it would split the validation of one TOML file.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

__all__ = [
    "ACTOR_KINDS",
    "ANY_LANGUAGE",
    "Actor",
    "Phrase",
    "Registry",
    "RegistryError",
    "RelevanceCues",
    "Role",
    "RolePeriod",
    "SeedDocument",
    "Theme",
    "load_corpus",
    "load_registry",
]

SEEDS_DIR = Path(__file__).resolve().parent
DEFAULT_ACTORS_PATH = SEEDS_DIR / "actors.toml"
DEFAULT_THEMES_PATH = SEEDS_DIR / "themes.toml"
DEFAULT_CORPUS_DIR = SEEDS_DIR / "corpus"
HANT_HANS_PATH = SEEDS_DIR / "zh_hant_hans.txt"

# Phrases under this "language" (names, acronyms, designations) apply to texts in every language.
ANY_LANGUAGE = "any"

ACTOR_KINDS = frozenset({"agency", "company", "military", "person", "country", "programme"})

_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_LANG_RE = re.compile(r"^[a-z]{2}$")
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")
_TOML_POS_RE = re.compile(r"\(at line (\d+), column (\d+)\)")


class RegistryError(ValueError):
    """A registry file is unreadable or inconsistent; the message starts with `file:line:`."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


# ---------------------------------------------------------------------------------------------
# Data model


@dataclass(frozen=True, slots=True)
class Phrase:
    language: str
    text: str
    weight: float


@dataclass(frozen=True, slots=True)
class RolePeriod:
    role: str
    start: dt.date
    end: dt.date | None  # inclusive; None while still in office

    def covers(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True, slots=True)
class Role:
    id: str
    org: str
    name: str
    phrases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Actor:
    id: str
    name: str
    kind: str
    aliases: tuple[str, ...]
    cased_aliases: tuple[str, ...] = ()
    metonyms: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    exclude_when: tuple[str, ...] = ()
    roles: tuple[RolePeriod, ...] = ()


@dataclass(frozen=True, slots=True)
class Theme:
    id: str
    description: str
    policy_weight: float
    phrases: tuple[Phrase, ...]
    exclusions: tuple[str, ...] = ()
    exclude_when: tuple[str, ...] = ()

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(p.language for p in self.phrases)


@dataclass(frozen=True, slots=True)
class RelevanceCues:
    policy: tuple[Phrase, ...] = ()
    nonpolicy: tuple[Phrase, ...] = ()
    space: tuple[Phrase, ...] = ()


@dataclass(frozen=True, slots=True)
class SeedDocument:
    name: str
    text: str


@dataclass(frozen=True)
class Registry:
    actors: tuple[Actor, ...]
    roles: tuple[Role, ...]
    themes: tuple[Theme, ...]
    relevance: RelevanceCues
    threshold: float
    saturation: float
    actors_path: str
    themes_path: str
    digest: str = field(repr=False)
    # Cues that make a text fiction or entertainment for every theme ("Apple TV+", "sitcom").
    exclude_when: tuple[str, ...] = ()

    @property
    def version(self) -> str:
        """Short hash of both files' bytes: stamped on tags so a re-tag can be detected."""
        return self.digest

    @property
    def theme_languages(self) -> frozenset[str]:
        """Languages with phrases of their own: texts in them get their themes judged."""
        return frozenset().union(*(t.languages for t in self.themes)) - {ANY_LANGUAGE}

    def actor(self, actor_id: str) -> Actor:
        for a in self.actors:
            if a.id == actor_id:
                return a
        raise KeyError(actor_id)

    def theme(self, theme_id: str) -> Theme:
        for t in self.themes:
            if t.id == theme_id:
                return t
        raise KeyError(theme_id)


# ---------------------------------------------------------------------------------------------
# Locating lines in the source text


class _Source:
    """The raw TOML text, to point semantic errors at a line (tomllib keeps no positions)."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def _headers(self) -> list[tuple[int, str]]:
        out = []
        for no, line in enumerate(self.lines, 1):
            s = line.strip()
            if s.startswith("["):
                out.append((no, s.split("#", 1)[0].strip()))
        return out

    def block(self, table: str, index: int) -> tuple[int, int]:
        """Line range (1-based, inclusive) of the index-th `[[table]]` with its sub-tables."""
        headers = self._headers()
        starts = [no for no, h in headers if h == f"[[{table}]]"]
        if index >= len(starts):
            return 1, len(self.lines)
        start = starts[index]
        end = len(self.lines)
        for no, h in headers:
            if no <= start:
                continue
            name = h.strip("[]").strip()
            if name == table or not name.startswith(f"{table}."):
                end = no - 1
                break
        return start, end

    def table_block(self, table: str) -> tuple[int, int]:
        headers = self._headers()
        for i, (no, h) in enumerate(headers):
            if h.strip("[]").strip() == table:
                end = headers[i + 1][0] - 1 if i + 1 < len(headers) else len(self.lines)
                return no, end
        return 1, len(self.lines)

    def find(self, span: tuple[int, int], key: str | None = None, value: str | None = None) -> int:
        start, end = span
        key_re = None
        if key is not None:
            key_re = re.compile(rf'^\s*(?:"{re.escape(key)}"|{re.escape(key)})\s*=')
        for no in range(start, min(end, len(self.lines)) + 1):
            line = self.lines[no - 1]
            if key_re is not None and key_re.search(line):
                if value is None or value in line:
                    return no
            elif key_re is None and value is not None and value in line:
                return no
        if key is not None and value is not None:
            return self.find(span, value=value) if value else self.find(span, key=key)
        return start

    def error(self, line: int, message: str) -> RegistryError:
        return RegistryError(self.path, line, message)


def _parse_toml(path: Path) -> tuple[dict[str, Any], bytes, _Source]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RegistryError(path, None, f"cannot read: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RegistryError(path, line, "not valid UTF-8") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_POS_RE.search(msg)
        line = int(m.group(1)) if m else None
        reason = _TOML_POS_RE.sub("", msg).strip()
        if m:
            reason = f"TOML syntax error: {reason} (column {m.group(2)})"
        raise RegistryError(path, line, reason) from exc
    return data, raw, _Source(path, text)


# ---------------------------------------------------------------------------------------------
# Field validation helpers


class _Table:
    """One TOML table being validated, with its location for error messages."""

    def __init__(self, src: _Source, data: Any, span: tuple[int, int], what: str) -> None:
        self.src = src
        self.span = span
        self.what = what
        if not isinstance(data, dict):
            raise src.error(span[0], f"{what} must be a table")
        self.data: dict[str, Any] = data

    def line(self, key: str | None = None, value: str | None = None) -> int:
        return self.src.find(self.span, key, value)

    def fail(self, message: str, key: str | None = None, value: str | None = None) -> RegistryError:
        return self.src.error(self.line(key, value), f"{self.what}: {message}")

    def check_keys(self, required: Iterable[str], optional: Iterable[str]) -> None:
        required, optional = set(required), set(optional)
        for key in self.data:
            if key not in required | optional:
                allowed = ", ".join(sorted(required | optional))
                raise self.fail(f"unknown key {key!r} (allowed: {allowed})", key=key)
        for key in sorted(required):
            if key not in self.data:
                raise self.src.error(self.span[0], f"{self.what}: missing required key {key!r}")

    def string(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{key!r} must be a non-empty string", key=key)
        return value.strip()

    def ident(self, key: str = "id") -> str:
        value = self.string(key)
        if not _ID_RE.match(value):
            raise self.fail(f"{key!r} {value!r} must be lower_snake_case", key=key)
        return value

    def number(self, key: str, default: float, lo: float, hi: float) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{key!r} must be a number", key=key)
        if not lo <= float(value) <= hi:
            raise self.fail(f"{key!r} must be between {lo} and {hi}, got {value}", key=key)
        return float(value)

    def strings(self, key: str, *, required: bool = False) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{key!r} must be a list of strings", key=key)
        for v in value:
            if not v.strip() or not v.strip().rstrip("*").strip():
                raise self.fail(f"{key!r} contains an empty entry", key=key)
            if "*" in v.strip().rstrip("*"):
                raise self.fail(f"{v!r}: a stem takes '*' only at the end", value=v)
        if required and not value:
            raise self.fail(f"{key!r} must not be empty", key=key)
        return tuple(v.strip() for v in value)


def _parse_date(table: _Table, key: str, value: Any, *, end: bool) -> dt.date:
    # TOML has no year-month type, so months are written as strings: "2018-05".
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = value if isinstance(value, str) else None
    m = _DATE_RE.match(text) if text else None
    if not m:
        raise table.fail(f"{key!r} must be a YYYY-MM or YYYY-MM-DD date, got {value!r}", key=key)
    year, month = int(m.group(1)), int(m.group(2))
    try:
        if m.group(3):
            return dt.date(year, month, int(m.group(3)))
        day = calendar.monthrange(year, month)[1] if end else 1
        return dt.date(year, month, day)
    except (ValueError, calendar.IllegalMonthError) as exc:
        raise table.fail(f"{key!r} is not a real date: {value!r}", key=key, value=text) from exc


def _phrase_tables(table: _Table, key: str, *, required: bool) -> tuple[Phrase, ...]:
    """`[x.<key>.<lang>]` tables of "phrase" = weight."""
    by_lang = table.data.get(key, {})
    if not isinstance(by_lang, dict):
        raise table.fail(f"{key!r} must be a table of languages", key=key)
    if required and not by_lang:
        raise table.fail(f"{key!r} must list phrases for at least one language")
    out: list[Phrase] = []
    for lang, phrases in by_lang.items():
        header = f"{key}.{lang}"
        if not _LANG_RE.match(lang) and lang != ANY_LANGUAGE:
            raise table.fail(
                f"language {lang!r} must be a two-letter code or {ANY_LANGUAGE!r}", value=header
            )
        if not isinstance(phrases, dict) or not phrases:
            raise table.fail(f"[{header}] must be a non-empty table", value=header)
        seen: dict[str, str] = {}
        for phrase, weight in phrases.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                raise table.fail(f"weight of {phrase!r} must be a number", key=phrase)
            if not -10 <= float(weight) <= 10:
                raise table.fail(f"weight of {phrase!r} must be between -10 and 10", key=phrase)
            norm = " ".join(phrase.lower().replace("ё", "е").split())
            if not norm.rstrip("*").strip():
                raise table.fail(f"empty phrase in [{header}]", value=header)
            if "*" in norm.rstrip("*"):
                raise table.fail(f"phrase {phrase!r}: a stem takes '*' only at the end", key=phrase)
            if norm in seen:
                raise table.fail(
                    f"phrase {phrase!r} duplicates {seen[norm]!r} (matching ignores case)",
                    key=phrase,
                )
            seen[norm] = phrase
            out.append(Phrase(lang, phrase.strip(), float(weight)))
    return tuple(out)


def _array(src: _Source, data: dict[str, Any], name: str) -> list[Any]:
    value = data.get(name, [])
    if not isinstance(value, list):
        raise src.error(src.find((1, len(src.lines)), key=name), f"{name!r} must be [[{name}]]")
    return value


# ---------------------------------------------------------------------------------------------
# Actors


def _load_actors(path: Path) -> tuple[tuple[Actor, ...], tuple[Role, ...], bytes]:
    data, raw, src = _parse_toml(path)
    whole = (1, max(1, len(src.lines)))
    for key in data:
        if key not in {"actor", "role"}:
            raise src.error(src.find(whole, key=key, value=f"[{key}"), f"unknown key {key!r}")

    roles: dict[str, Role] = {}
    role_lines: dict[str, _Table] = {}
    for i, item in enumerate(_array(src, data, "role")):
        t = _Table(src, item, src.block("role", i), f"role #{i + 1}")
        t.check_keys({"id", "org", "name", "phrases"}, set())
        rid = t.ident()
        t.what = f"role {rid!r}"
        if rid in roles:
            raise t.fail(f"duplicate role id {rid!r}", key="id")
        roles[rid] = Role(
            rid, t.ident("org"), t.string("name"), t.strings("phrases", required=True)
        )
        role_lines[rid] = t

    actors: dict[str, Actor] = {}
    tables: dict[str, _Table] = {}
    allowed = {"cased_aliases", "metonyms", "exclusions", "exclude_when", "roles"}
    for i, item in enumerate(_array(src, data, "actor")):
        t = _Table(src, item, src.block("actor", i), f"actor #{i + 1}")
        t.check_keys({"id", "name", "kind", "aliases"}, allowed)
        aid = t.ident()
        t.what = f"actor {aid!r}"
        if aid in actors:
            raise t.fail(f"duplicate actor id {aid!r}", key="id", value=f'"{aid}"')
        kind = t.string("kind")
        if kind not in ACTOR_KINDS:
            raise t.fail(f"kind {kind!r} must be one of {sorted(ACTOR_KINDS)}", key="kind")
        actors[aid] = Actor(
            id=aid,
            name=t.string("name"),
            kind=kind,
            aliases=t.strings("aliases", required=True),
            cased_aliases=t.strings("cased_aliases"),
            metonyms=t.strings("metonyms"),
            exclusions=t.strings("exclusions"),
            exclude_when=t.strings("exclude_when"),
            roles=_role_periods(t, roles),
        )
        tables[aid] = t

    for rid, role in roles.items():
        if role.org not in actors:
            raise role_lines[rid].fail(f"org {role.org!r} is not an actor id", key="org")
    _check_alias_clashes(actors, tables)
    _check_role_overlaps(actors, tables)
    return tuple(actors.values()), tuple(roles.values()), raw


def _role_periods(t: _Table, roles: Mapping[str, Role]) -> tuple[RolePeriod, ...]:
    items = t.data.get("roles", [])
    if not isinstance(items, list):
        raise t.fail("'roles' must be a list of { role, from, until } tables", key="roles")
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise t.fail("each entry of 'roles' must be a { role, from, until } table", key="roles")
        for key in item:
            if key not in {"role", "from", "until"}:
                raise t.fail(
                    f"unknown key {key!r} in roles (allowed: from, role, until)", value=key
                )
        rid = item.get("role")
        if not isinstance(rid, str) or rid not in roles:
            raise t.fail(f"roles: unknown role {rid!r}", value=str(rid) if rid else "roles")
        if "from" not in item:
            raise t.fail(f"roles: {rid!r} is missing 'from'", value=rid)
        start = _parse_date(t, "from", item["from"], end=False)
        end = _parse_date(t, "until", item["until"], end=True) if "until" in item else None
        if end is not None and end < start:
            raise t.fail(f"roles: {rid!r} ends before it starts", value=str(item["until"]))
        out.append(RolePeriod(rid, start, end))
    return tuple(out)


def _check_alias_clashes(actors: Mapping[str, Actor], tables: Mapping[str, _Table]) -> None:
    # One surface form must name one actor, or the tagger would credit whichever came first.
    owner: dict[tuple[bool, str], str] = {}
    for aid, a in actors.items():
        forms = [(False, s.lower().replace("ё", "е")) for s in (*a.aliases, *a.metonyms)]
        forms += [(True, s) for s in a.cased_aliases]
        for cased, form in forms:
            prev = owner.get((cased, form))
            if prev is not None and prev != aid:
                raise tables[aid].fail(f"alias {form!r} is also an alias of {prev!r}", value=form)
            owner[(cased, form)] = aid


def _check_role_overlaps(actors: Mapping[str, Actor], tables: Mapping[str, _Table]) -> None:
    periods = sorted(
        ((p.start, p.end, p.role, aid) for aid, a in actors.items() for p in a.roles),
        key=lambda x: (x[2], x[0]),
    )
    for (s1, e1, r1, a1), (s2, _e2, r2, a2) in pairwise(periods):
        # Handovers may share their day (dismissed and appointed by the same decree).
        if r1 == r2 and a1 != a2 and (e1 is None or e1 > s2):
            span = f"{s1}..{e1 or 'now'}"
            raise tables[a2].fail(f"role {r1!r} overlaps with {a1!r} ({span})", value=r2)


# ---------------------------------------------------------------------------------------------
# Themes


def _load_themes(
    path: Path,
) -> tuple[tuple[Theme, ...], RelevanceCues, float, float, tuple[str, ...], bytes]:
    data, raw, src = _parse_toml(path)
    whole = (1, max(1, len(src.lines)))
    for key in data:
        if key not in {"settings", "theme", "relevance"}:
            raise src.error(src.find(whole, key=key, value=f"[{key}"), f"unknown key {key!r}")

    settings = _Table(src, data.get("settings", {}), src.table_block("settings"), "[settings]")
    settings.check_keys(set(), {"threshold", "saturation", "exclude_when"})
    threshold = settings.number("threshold", 0.5, 0.0, 1.0)
    saturation = settings.number("saturation", 3.0, 0.01, 100.0)
    exclude_when = settings.strings("exclude_when")

    themes: dict[str, Theme] = {}
    for i, item in enumerate(_array(src, data, "theme")):
        t = _Table(src, item, src.block("theme", i), f"theme #{i + 1}")
        t.check_keys(
            {"id", "description", "phrases"}, {"policy_weight", "exclusions", "exclude_when"}
        )
        tid = t.ident()
        t.what = f"theme {tid!r}"
        if tid in themes:
            raise t.fail(f"duplicate theme id {tid!r}", key="id", value=f'"{tid}"')
        themes[tid] = Theme(
            id=tid,
            description=t.string("description"),
            policy_weight=t.number("policy_weight", 1.0, 0.0, 1.0),
            phrases=_phrase_tables(t, "phrases", required=True),
            exclusions=t.strings("exclusions"),
            exclude_when=t.strings("exclude_when"),
        )
        _check_shared_phrases(t, themes[tid].phrases)

    rel = _Table(src, data.get("relevance", {}), src.table_block("relevance"), "[relevance]")
    rel.check_keys(set(), {"policy_cues", "nonpolicy_cues", "space_terms"})
    cues = RelevanceCues(
        policy=_phrase_tables(rel, "policy_cues", required=False),
        nonpolicy=_phrase_tables(rel, "nonpolicy_cues", required=False),
        space=_phrase_tables(rel, "space_terms", required=False),
    )
    return tuple(themes.values()), cues, threshold, saturation, exclude_when, raw


def _check_shared_phrases(table: _Table, phrases: tuple[Phrase, ...]) -> None:
    # A phrase under `any` already applies to every language; listed again it would count twice.
    shared = {" ".join(p.text.lower().split()) for p in phrases if p.language == ANY_LANGUAGE}
    for p in phrases:
        if p.language != ANY_LANGUAGE and " ".join(p.text.lower().split()) in shared:
            raise table.fail(
                f"phrase {p.text!r} in [phrases.{p.language}] is already in [phrases.any]",
                key=p.text,
            )


# ---------------------------------------------------------------------------------------------
# Public API


def load_registry(
    actors_path: str | Path | None = None, themes_path: str | Path | None = None
) -> Registry:
    """Load and validate both registries (default: the files bundled beside this module)."""
    apath = Path(actors_path) if actors_path is not None else DEFAULT_ACTORS_PATH
    tpath = Path(themes_path) if themes_path is not None else DEFAULT_THEMES_PATH
    actors, roles, araw = _load_actors(apath)
    themes, cues, threshold, saturation, exclude_when, traw = _load_themes(tpath)
    # The Traditional-to-Simplified table decides what Chinese phrases match, like the registries.
    fold = HANT_HANS_PATH.read_bytes() if HANT_HANS_PATH.is_file() else b""
    digest = hashlib.sha256(
        b"actors\0" + araw + b"\0themes\0" + traw + b"\0hant\0" + fold
    ).hexdigest()[:12]
    return Registry(
        actors=actors,
        roles=roles,
        themes=themes,
        relevance=cues,
        threshold=threshold,
        saturation=saturation,
        actors_path=str(apath),
        themes_path=str(tpath),
        digest=digest,
        exclude_when=exclude_when,
    )


def load_corpus(directory: str | Path | None = None) -> tuple[SeedDocument, ...]:
    """Seed documents (`*.txt`, `*.md`, README excluded), sorted by file name."""
    root = Path(directory) if directory is not None else DEFAULT_CORPUS_DIR
    if not root.is_dir():
        return ()
    docs = []
    for p in sorted(root.iterdir()):
        if not p.is_file() or p.suffix.lower() not in {".txt", ".md"}:
            continue
        if p.stem.lower() == "readme":
            continue
        docs.append(SeedDocument(p.name, p.read_text(encoding="utf-8", errors="replace")))
    return tuple(docs)
