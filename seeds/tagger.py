"""Pure space-policy tagger: text in, frozen `TagResult` out.

`build_tagger(registry, corpus)` compiles every alias, role phrase, theme phrase, exclusion and
cue of the registries into ONE Aho-Corasick automaton over case-folded text, so tagging an article
is a single linear scan plus cheap bookkeeping on the hits (no regex per phrase).

Matching rules (shared by all entries):
- case-insensitive, with quotes/dashes/"ё" and runs of whitespace folded, offsets kept exact;
- Traditional Chinese characters are folded onto Simplified ones, so one phrase serves both;
- word boundaries on both sides for alphabetic entries; none for Chinese, Japanese and Korean
  (Chinese and Japanese have no spaces, Korean glues particles to nouns);
- Cyrillic and Arabic entries accept up to three inflection letters, and Arabic entries the
  clitics written before a word ("و", "ب", "ل", "ال"...); theme phrases and cues also accept a
  plural "s"/"es" (and German endings in German phrases); a trailing "*" matches any word ending;
- theme phrases and cues apply to texts of their own language; those listed under `any` (names,
  acronyms, designations such as "Artemis II") apply to every language;
- where actor names overlap the longest wins ("China National Space Administration" is CNSA).

Given a learned model (`spacewatch.seeds.model`, shipped in seeds/tagger_model.npz and loaded
by seeds/tagging.py), relevance and the themes it learned are its calibrated scores over the
registry's hits and the text; actors stay the registry's (`Tagger._apply_model`).

Over 500 lines on purpose: one algorithm (matching, scoring, the model, emerging actors)
whose parts share the registry's indexes; see docs/architecture.md for why it is not split now.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import ahocorasick

from spacewatch.extractors.language import detect_language
from spacewatch.seeds.model import Model, hash_text
from spacewatch.seeds.registry import HANT_HANS_PATH, Actor, Registry, SeedDocument

__all__ = [
    "MAX_TEXT_CHARS",
    "ActorMention",
    "Candidate",
    "TagResult",
    "Tagger",
    "ThemeTag",
    "build_tagger",
    "discover_candidates",
]


def _words(text: str) -> list[str]:
    # Word lists read better as one string than as hundreds of quoted items.
    return text.split()


# Longer texts are cut: beyond this an "article" is a dump, and linear cost must stay bounded.
MAX_TEXT_CHARS = 200_000

# Relevance is a logistic score over a handful of signals; the weights were set by hand on the
# gold set (tests/data/gold) and are deliberately few so they cannot memorise it.
# The bias is the decision threshold. At -2.2 every gold error was a relevant text just under 0.5
# (logits -0.6..0) while no non-relevant text scored above -1.0: the boundary sat on the relevant
# side of the gap. -1.4 puts it near the middle of that gap (max margin, one scalar, not per text).
_REL_BIAS = -1.4
_REL_THEME = 2.2  # per unit of sum(theme score * policy_weight)
_REL_ACTOR = 0.55  # per unit of actor signal (see _ACTOR_KIND_WEIGHT), capped
_REL_ACTOR_CAP = 3.0
_REL_POLICY = 0.45  # per unit of policy cue weight, capped
_REL_POLICY_CAP = 6.0
_REL_NONPOLICY = 0.6  # per unit of business/science/entertainment cue weight, capped
_REL_NONPOLICY_CAP = 6.0
_REL_NOT_SPACE = -4.0  # added when the text has no space vocabulary at all
# Space in passing: a war, protest or budget story that mentions a satellite or Starlink once or
# twice is not a space story. Below this many space mentions (space cues plus mentions of space
# agencies, programmes, companies and Space Force units) per 1000 words the text is "peripheral":
# _REL_PERIPHERAL is added to the registry's logit and the model may not score it (nor a text
# with no space vocabulary at all) above the registry. On the dev data every relevant text had 28
# or more per 1000 words; the off-topic news the registry called relevant had 1 to 12.
_SPACE_SHARE_MIN = 15.0
# Themes are about space policy: a text clearly judged not relevant keeps none (a Webb science
# release credited to NASA and ESA is not `international_cooperation`), as the labelling
# convention says. Below 0.5 rather than at it: one short sentence about crewed Mars plans scores
# 0.36-0.45 (few actors, few cues) and still shows what it is about. Dev cross-validation, real
# items: theme micro-F1 0.727 without this, 0.750 at 0.25, 0.762 at 0.5.
_THEMES_MIN_RELEVANCE = 0.3
_REL_PERIPHERAL = -6.0
# Without theme phrases for a language the strongest policy signal is missing; compensate a little
# so relevance still rests on actors and cues rather than defaulting to "no".
_REL_UNJUDGED = 0.6
_ACTOR_KIND_WEIGHT = {
    "agency": 0.5,
    "military": 1.0,
    "country": 0.6,
    "programme": 0.3,
    "person": 0.3,
    "company": -0.2,
}
_OFFICE_HOLDER_BONUS = 0.4  # people who held a registry role are government actors
_SPACE_KINDS = frozenset({"agency", "programme", "company"})

_DETECT_MIN_BODY = 200  # characters of body below which the title joins language detection
_TITLE_BOOST = 1.5
_REPEAT_BONUS = 0.25  # extra weight per repeated occurrence of a phrase, up to _REPEAT_CAP
_REPEAT_CAP = 4
_MAX_EVIDENCE = 6
_MAX_ACTOR_EVIDENCE = 3
_SNIPPET = 40

# Entry kinds stored in the automaton payloads.
_ALIAS, _METONYM, _ROLE, _THEME, _X_ACTOR, _X_THEME, _CUE_POL, _CUE_NON, _CUE_SPACE, _WHEN = range(
    10
)
_LANG_KINDS = frozenset({_THEME, _CUE_POL, _CUE_NON, _CUE_SPACE})  # only in the text's language
_PLURAL_KINDS = _LANG_KINDS

# Key flags. _F_HAN: no word boundaries (CJK); _F_INFL: inflection letters may follow (Cyrillic,
# Arabic); _F_ARAB: Arabic clitics may precede.
_F_HAN, _F_INFL, _F_LEAD, _F_TRAIL, _F_STEM, _F_ARAB = 1, 2, 4, 8, 16, 32
_ANY = "any"  # phrase language that applies to texts in every language
# Endings a theme phrase or cue may take without a "*": plurals, and German case/plural endings.
_TAILS = {"de": frozenset(_words("s es e n en er ern"))}
_PLURAL = frozenset(("s", "es"))
# Arabic writes conjunctions, prepositions and the article onto the next word.
_AR_CLITICS = frozenset(_words("و ف ب ل ك ال وال فال بال كال لل ول فل وب فب ولل فلل وس"))


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class ThemeTag:
    id: str
    score: float
    evidence: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ActorMention:
    id: str
    name: str
    kind: str
    mentions: int
    evidence: tuple[str, ...]
    spans: tuple[
        tuple[int, int], ...
    ]  # offsets in `text` (title mentions are counted, not spanned)
    via: tuple[str, ...]  # "alias", "metonym", "role"


@dataclass(frozen=True, slots=True)
class TagResult:
    language: str
    themes_judged: bool
    relevant: bool
    relevance: float
    themes: tuple[ThemeTag, ...]
    actors: tuple[ActorMention, ...]
    seed_similarity: tuple[tuple[str, float], ...]
    seed_similarity_max: float
    registry_version: str
    truncated: bool = False
    model_version: str = ""  # the learned model's version; "" when the registry alone tagged

    @property
    def theme_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.themes)

    @property
    def actor_ids(self) -> tuple[str, ...]:
        return tuple(a.id for a in self.actors)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A recurring capitalised name that no registry alias covers: maybe a new actor."""

    name: str
    count: int
    documents: int
    examples: tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# Text normalisation (length-preserving fold, then whitespace collapse with an offset map)

_FOLD = str.maketrans(
    {
        "’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'",
        "“": '"', "”": '"', "«": '"', "»": '"', "„": '"',
        "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-",
        "ё": "е",
        "\n": " ", "\r": " ", "\t": " ", "\x0b": " ", "\x0c": " ", "\xa0": " ",
        "\u2009": " ", "\u200a": " ", "\u202f": " ", "\u3000": " ", "\u2028": " ", "\u2029": " ",
        "\x00": " ",
    }
)  # fmt: skip
_SPACES = re.compile(r" {2,}")


def _load_hant() -> dict[int, int]:
    out = {}
    for line in HANT_HANS_PATH.read_text(encoding="utf-8").splitlines():
        if len(line) == 2 and not line.startswith("#"):
            out[ord(line[0])] = ord(line[1])
    return out


_HANT = {k: v for k, v in _load_hant().items() if k not in _FOLD}
# str.translate looks every character up in the table when the text is not ASCII (0.5 ms for an
# 800-word Russian article): texts without a Traditional character are folded by substituting
# only the few characters of the small table instead, which gives the same string.
_FOLD_SMALL = {chr(k): (v if isinstance(v, str) else chr(v)) for k, v in _FOLD.items()}
_FOLD_SMALL_RE = re.compile("[" + "".join(re.escape(c) for c in _FOLD_SMALL) + "]")
_HANT_RE = re.compile("[" + "".join(re.escape(chr(k)) for k in _HANT) + "]")
_FOLD.update(_HANT)


def _fold_char(m: re.Match[str]) -> str:
    return _FOLD_SMALL[m.group()]


def _fold(text: str) -> str:
    low = text.lower()
    if len(low) != len(text):
        # A few characters ("İ") lower-case to two; keep them as-is so offsets stay aligned.
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    if low.isascii() or _HANT_RE.search(low):
        return low.translate(_FOLD)
    return _FOLD_SMALL_RE.sub(_fold_char, low)


class _Norm:
    """Folded text with whitespace runs collapsed, and the map back to original offsets."""

    __slots__ = ("_bps", "_cum", "text")

    def __init__(self, original: str) -> None:
        folded = _fold(original)
        bps: list[int] = []
        cum: list[int] = []
        removed = 0
        parts: list[str] = []
        last = 0
        for m in _SPACES.finditer(folded):
            s, e = m.span()
            parts.append(folded[last : s + 1])
            last = e
            removed += e - s - 1
            bps.append(s + 1 - (removed - (e - s - 1)))
            cum.append(removed)
        if bps:
            parts.append(folded[last:])
            folded = "".join(parts)
        self.text = folded
        self._bps = bps
        self._cum = cum

    def orig(self, pos: int) -> int:
        if not self._bps:
            return pos
        k = bisect_right(self._bps, pos) - 1
        return pos + (self._cum[k] if k >= 0 else 0)

    def orig_end(self, end: int) -> int:
        return self.orig(end - 1) + 1 if end > 0 else 0


def _normalise_key(phrase: str) -> tuple[str, bool]:
    key = " ".join(_fold(phrase).split())
    stem = key.endswith("*")
    return key.rstrip("*").rstrip(), stem


def _is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


_HAN_RE = re.compile("[\u3400-\u9fff\uf900-\ufaff]")  # any character _is_han accepts


def _is_cjk(ch: str) -> bool:
    # Han, kana and Hangul syllables: scripts matched without word boundaries.
    return _is_han(ch) or "\u3040" <= ch <= "\u30ff" or "\uac00" <= ch <= "\ud7af"


def _is_cyr(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


def _is_arab(ch: str) -> bool:
    return "\u0600" <= ch <= "\u06ff"


@cache
def _wordch(ch: str) -> bool:
    """Does `ch` continue an alphabetic word? CJK characters do not: "NASAの", "美国NASA"."""
    if ch.isalnum():
        return ch < "\u3040" or not _is_cjk(ch)
    # Devanagari and Arabic vowel signs are marks, not letters, yet belong to the word.
    return ch > "\u02ff" and unicodedata.category(ch)[0] == "M"


def _key_flags(key: str, stem: bool) -> int:
    flags = 0
    if any(_is_cjk(c) for c in key):
        flags |= _F_HAN
    if _is_cyr(key[-1]) or _is_arab(key[-1]):
        flags |= _F_INFL
    if _is_arab(key[0]):
        flags |= _F_ARAB
    if _wordch(key[0]):
        flags |= _F_LEAD
    if _wordch(key[-1]):
        flags |= _F_TRAIL
    if stem:
        flags |= _F_STEM
    return flags


def _arabic_clitic(ntext: str, start: int) -> bool:
    """True when the letters glued before `start` are Arabic clitics ("وال" in "والفضاء")."""
    j = start
    while j > 0 and start - j < 4 and _is_arab(ntext[j - 1]):
        j -= 1
    if j > 0 and _wordch(ntext[j - 1]):
        return False
    return ntext[j:start] in _AR_CLITICS


def _same_script(tail: str, last: str) -> bool:
    check = _is_cyr if _is_cyr(last) else _is_arab
    return all(map(check, tail))


def _clean(s: str) -> str:
    return " ".join(s.split())


# ---------------------------------------------------------------------------------------------
# Metonym context (is "Moscow" the government or the city?)

_PLACE_PREV_EN = frozenset(
    _words(
        "in to from at near outside around across into via visit visited visiting visits toward "
        "towards through within inside a an"
    )
)
_PLACE_PREV_RU = frozenset(_words("в во из на до под по около возле через"))
_RU_SPEECH = re.compile(
    r"^\s*(?:заяв|счита|ответ|назва|назыв|отмети|сообщ|полага|увер|подчеркн|предупред|опаса|"
    r"расцени|говор|призва|намерен|хотят|решил)"
)
_AGENT_NEXT_EN = frozenset(
    _words(
        "and or but nor to with over on in at for about against from by as than of into after "
        "before last this next since during while when which who that whose is was are were "
        "has have had will would could can may might must should shall does did do says said "
        "say wants wanted plans planned hopes hoped sees saw argues argued insists insisted "
        "claims claimed believes believed warns warned accuses accused rejects rejected "
        "responds responded denies denied seeks sought needs needed fears feared considers "
        "considered expects expected calls called sees views viewed refuses refused signs "
        "signed announces announced intends intended aims aimed accepts accepted agrees "
        "agreed demands demanded threatens threatened pushes pushed urges urged blames blamed "
        "condemns condemned welcomes welcomed also now still already recently again never "
        "then too itself alone quickly first responded retaliated countered remain remains "
        "want plan hope agree disagree continue continues need seem seems appear appears "
        "differ clash"
    )
)
_WORD_BEFORE = re.compile(r"([\w'-]+)[^\w\n]*$")
_WORD_AFTER = re.compile(r"^\s+([^\W\d_][\w-]*)")
_DATELINE_TAIL = re.compile(r"^\s*(?:\([^)\n]{1,40}\)|,[^\n—–\-]{1,40})?\s*[—–-]")
_ZH_PLACE_PREV = ("在", "到", "赴", "抵达", "前往", "访问")


def _metonym_agent(full: str, start: int, end: int) -> bool:
    surface = full[start:end]
    line_start = full.rfind("\n", 0, start) + 1
    lead = full[line_start:start].strip(" \t*#>_\"'")
    if not lead and (surface.isupper() or _DATELINE_TAIL.match(full[end : end + 60])):
        return False  # dateline: "WASHINGTON —", "MOSCOW (Reuters) -"
    line_end = full.find("\n", end)
    rest = full[end : line_end if line_end >= 0 else len(full)]
    if not rest.strip() and len(full[line_start:end].split()) <= 4:
        return False  # an address or signature line: "NASA Headquarters, Washington"
    if _is_han(surface[0]):
        return not full[max(0, start - 2) : start].endswith(_ZH_PLACE_PREV)
    before = _WORD_BEFORE.search(full[max(0, start - 40) : start])
    prev = before.group(1).lower() if before else ""
    after = full[end : end + 40]
    if _is_cyr(surface[0]):
        if prev in _PLACE_PREV_RU:
            # "В Кремле заявили" / "в Москве считают" is how Russian says "the Kremlin said".
            return bool(_RU_SPEECH.match(after))
        return True
    if prev in _PLACE_PREV_EN:
        return False
    if after[:2] in ("'s", "’s") or after[:1] in ("'", "’"):
        return True  # "Beijing's plan"
    if after[:1] == "-" and after[1:2].isalpha():
        return False  # "Moscow-based"
    nxt = _WORD_AFTER.match(after)
    if nxt is None:
        return True  # punctuation or a capitalised word follows: "between Moscow and Washington."
    word = nxt.group(1)
    if not word.islower():
        return True
    # A lower-case word that is neither a verb nor a connector makes the city a modifier of a
    # noun: "a Washington think tank", "Beijing residents".
    return word in _AGENT_NEXT_EN or word.endswith("ed")


# A name right after a role phrase that no registry person matched: initials, or two capitalised
# words ("Il Presidente degli Stati Uniti J.F. Kennedy", "NASA administrator Michael Griffin").
# Only in the body: headlines in title case ("NASA Chief Says Agency...") look the same.
_CAP = r"[A-ZА-ЯЁ][a-zа-яё'-]+"
_NAMED_AFTER = re.compile(rf"[ \t]+(?:[A-ZА-ЯЁ]\.[ \t]?)+{_CAP}|[ \t]+{_CAP}[ \t]+{_CAP}")
_FORMER = re.compile(r"(?:former|ex-|then-|previous|predecessor|бывш|экс-|前任|前)\W*(?:\w+\W+)?$")
_NAME_GAP_BEFORE = re.compile(r"[\W_]*(?:(?:the|its|his|her|new|current|acting)[\W_]+)*")
_NAME_GAP_AFTER = re.compile(r"[\W_]*")
# "NASA's chief diplomat", "NASA chief scientist", "head of NASA's science directorate" name other
# offices than the one the role phrase stands for.
_ROLE_BREAK = re.compile(
    r"^(?:'s\b|\s+(?:scientists?|engineers?|diplomats?|economists?|technologists?|historians?|"
    r"financial|information|of\b|medical|health|counsel|spokes\w*|astronauts?|operating|"
    r"technology|strategist|architect|negotiator|press)\b)"
)


# ---------------------------------------------------------------------------------------------
# Tagger


@dataclass(frozen=True, slots=True)
class _Entry:
    kind: int
    target: int  # actor index, role index, theme index, or -1
    weight: float
    lang: str
    cased: str | None
    targets: tuple[tuple[str, int], ...] = ()  # for _WHEN: ("actor"|"theme", index)


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return str(value)
    return value


def _pick_longest(hits: list[tuple[int, int, Any]], size: int) -> list[tuple[int, int, Any]]:
    """Greedy leftmost-longest selection of non-overlapping (start, end, payload) hits."""
    if len(hits) < 2:
        return hits
    taken = bytearray(size + 1)
    out = []
    for h in sorted(hits, key=lambda h: (h[0] - h[1], h[0])):
        s, e = h[0], h[1]
        if 1 in taken[s:e]:
            continue
        taken[s:e] = b"\x01" * (e - s)
        out.append(h)
    out.sort(key=lambda h: h[0])
    return out


def _inside(s: int, e: int, spans: list[tuple[int, int]]) -> bool:
    return any(xs <= s and e <= xe for xs, xe in spans)


class Tagger:
    """Compiled registry. Immutable after construction; `tag` is a pure function of its input."""

    def __init__(
        self, registry: Registry, corpus: Sequence[SeedDocument] = (), model: Model | None = None
    ) -> None:
        self.registry = registry
        self._model_themes: tuple[tuple[int, str], ...] = ()
        self._need_phrase: frozenset[str] = frozenset()
        if model is not None:
            known = {t.id: ti for ti, t in enumerate(registry.themes)}
            self._model_themes = tuple((known[t], t) for t in model.themes if t in known)
            self._need_phrase = frozenset(model.meta.get("registry_evidence_required", ()))  # type: ignore[arg-type]
        self._actors: tuple[Actor, ...] = registry.actors
        self._actor_index = {a.id: i for i, a in enumerate(self._actors)}
        self._themes = registry.themes
        self._roles = registry.roles
        self._theme_languages = registry.theme_languages
        self._office_holders = frozenset(i for i, a in enumerate(self._actors) if a.roles)
        self._role_holders: list[list[tuple[dt.date, dt.date | None, int]]] = [
            [] for _ in self._roles
        ]
        role_index = {r.id: i for i, r in enumerate(self._roles)}
        for ai, a in enumerate(self._actors):
            for p in a.roles:
                self._role_holders[role_index[p.role]].append((p.start, p.end, ai))
        self._role_org = tuple(self._actor_index[r.org] for r in self._roles)
        self._automaton = self._compile()
        # Seed vectors come from the registry alone, as do the articles' (see `tag`).
        self.model = None
        self._seeds: tuple[tuple[str, dict[str, float]], ...] = tuple(
            (doc.name, self._vector(self.tag(doc.text, _seeds=False))) for doc in corpus
        )
        self.model = model

    # -- compilation ----------------------------------------------------------------------

    def _compile(self) -> ahocorasick.Automaton:
        table: dict[str, list[_Entry]] = defaultdict(list)
        stems: dict[str, bool] = {}

        def add(phrase: str, entry: _Entry) -> None:
            key, stem = _normalise_key(phrase)
            if not key:
                return
            if entry in table[key]:
                return  # two spellings that fold alike ("國家航天局", "国家航天局") count once
            table[key].append(entry)
            stems[key] = stems.get(key, False) or stem

        for ai, a in enumerate(self._actors):
            for alias in a.aliases:
                add(alias, _Entry(_ALIAS, ai, 1.0, "", None))
            for alias in a.cased_aliases:
                add(alias, _Entry(_ALIAS, ai, 1.0, "", alias.rstrip("*").strip()))
            for m in a.metonyms:
                add(m, _Entry(_METONYM, ai, 1.0, "", None))
            for x in a.exclusions:
                add(x, _Entry(_X_ACTOR, ai, 0.0, "", None))
            for cue in a.exclude_when:
                add(cue, _Entry(_WHEN, -1, 0.0, "", None, (("actor", ai),)))
        every_theme = tuple(("theme", ti) for ti in range(len(self._themes)))
        for cue in self.registry.exclude_when:
            add(cue, _Entry(_WHEN, -1, 0.0, "", None, every_theme))
        for ri, r in enumerate(self._roles):
            for p in r.phrases:
                add(p, _Entry(_ROLE, ri, 1.0, "", None))
        for ti, t in enumerate(self._themes):
            for ph in t.phrases:
                add(ph.text, _Entry(_THEME, ti, ph.weight, ph.language, None))
            for x in t.exclusions:
                add(x, _Entry(_X_THEME, ti, 0.0, "", None))
            for cue in t.exclude_when:
                add(cue, _Entry(_WHEN, -1, 0.0, "", None, (("theme", ti),)))
        cues = self.registry.relevance
        for kind, phrases in (
            (_CUE_POL, cues.policy),
            (_CUE_NON, cues.nonpolicy),
            (_CUE_SPACE, cues.space),
        ):
            for ph in phrases:
                add(ph.text, _Entry(kind, -1, ph.weight, ph.language, None))

        automaton = ahocorasick.Automaton()
        for key, entries in table.items():
            automaton.add_word(key, (len(key), _key_flags(key, stems[key]), tuple(entries)))
        automaton.make_automaton()
        return automaton

    # -- tagging --------------------------------------------------------------------------

    def tag(
        self,
        text: Any,
        *,
        title: Any = None,
        published: Any = None,
        language: str | None = None,
        _seeds: bool = True,
    ) -> TagResult:
        return self._tag(text, title, published, language, _seeds, None)

    def signals(
        self, text: Any, *, title: Any = None, published: Any = None, language: str | None = None
    ) -> tuple[TagResult, str, dict[str, float]]:
        """The registry's verdict alone, the folded text and the named signals a model reads.

        What `spacewatch.seeds.train_model` learns from; `tag` feeds the same to the model."""
        out: list[Any] = []
        result = self._tag(text, title, published, language, False, out)
        return result, out[0], out[1]

    def _tag(
        self,
        text: Any,
        title: Any,
        published: Any,
        language: str | None,
        _seeds: bool,
        capture: list[Any] | None,
    ) -> TagResult:
        body = _as_text(text)
        head = _clean(_as_text(title))
        truncated = len(body) > MAX_TEXT_CHARS
        if truncated:
            body = body[:MAX_TEXT_CHARS]
        head = head[:2000]
        full = f"{head}\n\n{body}" if head else body
        offset = len(head) + 2 if head else 0
        # A short body ("1969 Apollo 11", a byline) says little about its language: add the title.
        sample = body if len(body) >= _DETECT_MIN_BODY or not head else f"{head}\n{body}"
        lang = language if language else detect_language(sample)
        day = _date(published)
        judged = lang in self._theme_languages

        norm = _Norm(full)
        ntext = norm.text
        size = len(ntext)
        body_start_norm = self._norm_pos(norm, offset, size)

        actor_hits: list[tuple[int, int, tuple[int, bool]]] = []
        role_hits: list[tuple[int, int, int]] = []
        theme_hits: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
        x_actor: dict[int, list[tuple[int, int]]] = defaultdict(list)
        x_theme: dict[int, list[tuple[int, int]]] = defaultdict(list)
        suppressed: set[tuple[str, int]] = set()
        cue_sums = {_CUE_POL: Counter(), _CUE_NON: Counter(), _CUE_SPACE: Counter()}
        cue_weight: dict[tuple[int, str], float] = {}

        for end, (klen, flags, entries) in self._automaton.iter(ntext):
            start = end - klen + 1
            stop = end + 1
            tail = ""
            if not flags & _F_HAN:
                if (
                    flags & _F_LEAD
                    and start > 0
                    and _wordch(ntext[start - 1])
                    and not (flags & _F_ARAB and _arabic_clitic(ntext, start))
                ):
                    continue
                if flags & _F_TRAIL and stop < size and _wordch(ntext[stop]):
                    j = stop
                    limit = size if flags & _F_STEM else min(size, stop + 4)
                    while j < limit and _wordch(ntext[j]):
                        j += 1
                    tail = ntext[stop:j]
                    if j < size and _wordch(ntext[j]) and not flags & _F_STEM:
                        tail = "\x00"  # longer than any inflection we accept
            for entry in entries:
                kind = entry.kind
                if kind in _LANG_KINDS and entry.lang != lang and entry.lang != _ANY:
                    continue
                e = stop
                if tail:
                    if (
                        flags & _F_STEM
                        or (flags & _F_INFL and len(tail) <= 3 and _same_script(tail, ntext[end]))
                        or (kind in _PLURAL_KINDS and tail in _TAILS.get(entry.lang, _PLURAL))
                    ):
                        e = stop + len(tail)
                    else:
                        continue
                if entry.cased is not None:
                    os_ = norm.orig(start)
                    if full[os_ : os_ + len(entry.cased)] != entry.cased:
                        continue
                if kind in (_ALIAS, _METONYM):
                    actor_hits.append((start, e, (entry.target, kind == _METONYM)))
                elif kind == _THEME:
                    theme_hits[entry.target].append((start, e, entry.weight))
                elif kind == _ROLE:
                    role_hits.append((start, e, entry.target))
                elif kind == _X_ACTOR:
                    x_actor[entry.target].append((start, e))
                elif kind == _X_THEME:
                    x_theme[entry.target].append((start, e))
                elif kind == _WHEN:
                    suppressed.update(entry.targets)
                else:
                    cue = ntext[start:stop]
                    cue_sums[kind][cue] += 1
                    cue_weight[(kind, cue)] = entry.weight

        # Actors -------------------------------------------------------------------------
        kept = [
            h
            for h in actor_hits
            if ("actor", h[2][0]) not in suppressed
            and not (h[2][0] in x_actor and _inside(h[0], h[1], x_actor[h[2][0]]))
        ]
        chosen = _pick_longest(kept, size)
        per_actor: dict[int, list[tuple[int, int, str, str]]] = defaultdict(list)
        person_spans: list[tuple[int, int]] = []
        for s, e, (ai, metonym) in chosen:
            os_, oe = norm.orig(s), norm.orig_end(e)
            if metonym and not _metonym_agent(full, os_, oe):
                continue
            per_actor[ai].append((os_, oe, "metonym" if metonym else "alias", ""))
            if self._actors[ai].kind == "person":
                person_spans.append((s, e))

        for s, e, ri in _pick_longest(role_hits, size):
            holder = self._resolve_role(ri, s, e, ntext, day, person_spans)
            if holder is None:
                continue
            os_, oe = norm.orig(s), norm.orig_end(e)
            if s >= body_start_norm and _NAMED_AFTER.match(full, oe):
                continue  # "the President of the United States J.F. Kennedy": someone else
            note = f"{_clean(full[os_:oe])} -> {self._actors[holder].name} ({day.isoformat()})"
            per_actor[holder].append((os_, oe, "role", note))

        actors = tuple(
            sorted(
                (self._mention(ai, hits, full, offset) for ai, hits in per_actor.items()),
                key=lambda m: (-m.mentions, m.id),
            )
        )

        # Themes -------------------------------------------------------------------------
        raw_scores: dict[int, float] = {}
        evidence: dict[int, tuple[str, ...]] = {}
        vetoed = frozenset(ti for kind, ti in suppressed if kind == "theme")
        # Unjudged languages still get the phrases shared by every language (names, acronyms).
        if theme_hits:
            for ti, hits in theme_hits.items():
                if ti in vetoed:
                    continue
                if ti in x_theme:
                    hits = [h for h in hits if not _inside(h[0], h[1], x_theme[ti])]
                chosen_hits = _pick_longest(hits, size)
                raw, ev = self._theme_score(chosen_hits, ntext, body_start_norm)
                if raw > 0:
                    raw_scores[ti] = raw
                    evidence[ti] = _unfold_evidence(ev, chosen_hits, ntext, full, norm)
        sat = self.registry.saturation
        scores = {ti: raw / (raw + sat) for ti, raw in raw_scores.items()}

        # Relevance ----------------------------------------------------------------------
        def cue_total(kind: int) -> float:
            return sum(cue_weight[(kind, c)] * min(n, 2) for c, n in cue_sums[kind].items())

        space_actors = 0
        space_mentions = sum(cue_sums[_CUE_SPACE].values())
        for ai, hits in per_actor.items():
            if self._actors[ai].kind in _SPACE_KINDS or self._actors[ai].id.startswith("us_space"):
                space_actors += 1
                space_mentions += len(hits)
        # Themes are space themes: a text with no space vocabulary and no space actor at all (a
        # Navy budget story, a court ruling) gets none, however many generic policy words it has.
        spacey = cue_total(_CUE_SPACE) + space_actors >= 1
        if not spacey:
            scores = {}
        themes = tuple(
            ThemeTag(self._themes[ti].id, round(sc, 4), evidence[ti])
            for ti, sc in sorted(scores.items(), key=lambda kv: -kv[1])
            if sc >= self.registry.threshold
        )

        theme_signal = sum(sc * self._themes[ti].policy_weight for ti, sc in scores.items())
        actor_signal = 0.0
        for ai in per_actor:
            actor_signal += _ACTOR_KIND_WEIGHT.get(self._actors[ai].kind, 0.0)
            if ai in self._office_holders:
                actor_signal += _OFFICE_HOLDER_BONUS
        z = (
            _REL_BIAS
            + _REL_THEME * theme_signal
            + _REL_ACTOR * max(-1.0, min(actor_signal, _REL_ACTOR_CAP))
            + _REL_POLICY * min(cue_total(_CUE_POL), _REL_POLICY_CAP)
            - _REL_NONPOLICY * min(cue_total(_CUE_NON), _REL_NONPOLICY_CAP)
        )
        if not judged:
            z += _REL_UNJUDGED
        if not spacey:
            z += _REL_NOT_SPACE
        peripheral = spacey and space_mentions * 1000 < _SPACE_SHARE_MIN * max(1, full.count(" "))
        if peripheral:
            z += _REL_PERIPHERAL
        relevance = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

        model_version = ""
        if self.model is not None or capture is not None:
            signals = self._signal_values(
                raw_scores, themes, vetoed, per_actor, cue_total, z, spacey, judged, full
            )
            if capture is not None:
                capture += [ntext, signals]
            if self.model is not None:
                registry_relevance = relevance
                relevance, themes = self._apply_model(
                    ntext, signals, judged, vetoed, raw_scores, evidence, themes
                )
                if peripheral or not spacey:
                    relevance = min(relevance, registry_relevance)
                model_version = self.model.version

        if relevance < _THEMES_MIN_RELEVANCE:
            themes = ()  # labelling convention: a text that is not space policy has no themes
        result = TagResult(
            language=lang,
            themes_judged=judged,
            relevant=relevance >= 0.5,
            relevance=round(relevance, 4),
            themes=themes,
            actors=actors,
            seed_similarity=(),
            seed_similarity_max=0.0,
            registry_version=self.registry.version,
            truncated=truncated,
            model_version=model_version,
        )
        if not _seeds or not self._seeds:
            return result
        vec = self._vector(result, scores)
        sims = tuple(
            sorted(
                ((name, round(_cosine(vec, sv), 4)) for name, sv in self._seeds),
                key=lambda x: -x[1],
            )
        )
        return TagResult(
            language=lang,
            themes_judged=judged,
            relevant=result.relevant,
            relevance=result.relevance,
            themes=themes,
            actors=actors,
            seed_similarity=sims,
            seed_similarity_max=max(s for _, s in sims),
            registry_version=self.registry.version,
            truncated=truncated,
            model_version=model_version,
        )

    # -- the learned model ----------------------------------------------------------------

    def _signal_values(
        self,
        raw_scores: dict[int, float],
        themes: tuple[ThemeTag, ...],
        vetoed: frozenset[int],
        per_actor: dict[int, list[tuple[int, int, str, str]]],
        cue_total: Any,
        z: float,
        spacey: bool,
        judged: bool,
        full: str,
    ) -> dict[str, float]:
        """What the registry saw, by name: the model's columns survive registry edits."""
        sig: dict[str, float] = {
            "registry:logit": max(-8.0, min(8.0, z)) / 4,
            "registry:spacey": float(spacey),
            "registry:judged": float(judged),
            "cue:policy": math.log1p(cue_total(_CUE_POL)),
            "cue:nonpolicy": math.log1p(cue_total(_CUE_NON)),
            "cue:space": math.log1p(cue_total(_CUE_SPACE)),
            "text:words": math.log1p(full.count(" ")) / 8,
        }
        for ti, raw in raw_scores.items():
            sig[f"theme:{self._themes[ti].id}:raw"] = math.log1p(raw)
        for t in themes:
            sig[f"theme:{t.id}:asserted"] = 1.0
        for ti in vetoed:
            sig[f"theme:{self._themes[ti].id}:vetoed"] = 1.0
        kinds: Counter[str] = Counter()
        for ai, hits in per_actor.items():
            a = self._actors[ai]
            kinds[a.kind] += 1
            sig[f"actor:{a.id}"] = math.log1p(len(hits))
            if ai in self._office_holders:
                kinds["office_holder"] += 1
        for kind, n in kinds.items():
            sig[f"kind:{kind}"] = math.log1p(n)
        return sig

    def _apply_model(
        self,
        ntext: str,
        signals: dict[str, float],
        judged: bool,
        vetoed: frozenset[int],
        raw_scores: dict[int, float],
        evidence: dict[int, tuple[str, ...]],
        registry_themes: tuple[ThemeTag, ...],
    ) -> tuple[float, tuple[ThemeTag, ...]]:
        """Relevance and the model's themes from the model; the other themes from the registry.

        A model theme is asserted when its calibrated score reaches the model's threshold for it,
        the registry did not veto it (`exclude_when`), the language is one the registry judges,
        and it has evidence: the registry's phrases for it, else the text's n-grams (or registry
        signals) that raised its score most, marked "model: ...". Themes listed as needing
        registry evidence (those where precision is preferred) also need a registry phrase.
        See docs/choices.md.
        """
        model = self.model
        assert model is not None
        hashed = hash_text(ntext)
        scores = model.score(hashed, signals)
        by_model = {tid for _, tid in self._model_themes}
        kept = [t for t in registry_themes if t.id not in by_model]
        if judged:
            for ti, tid in self._model_themes:
                p = scores.probabilities[tid]
                if ti in vetoed or p < model.thresholds.get(tid, 0.5):
                    continue
                ev = evidence.get(ti, ()) if raw_scores.get(ti, 0.0) > 0 else ()
                if not ev:
                    if tid in self._need_phrase:
                        continue
                    ev = tuple(f"model: {g}" for g in model.explain(hashed, tid))
                    if not ev:
                        ev = tuple(f"model: {n}" for n in model.explain_signals(signals, tid))
                    if not ev:
                        continue  # nothing to show for it: not asserted
                kept.append(ThemeTag(tid, round(p, 4), ev))
        kept.sort(key=lambda t: (-t.score, t.id))
        return scores.probabilities["relevant"], tuple(kept)

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _norm_pos(norm: _Norm, orig_pos: int, size: int) -> int:
        # Inverse of _Norm.orig for the (rare) need to locate the body start in folded text.
        if orig_pos <= 0:
            return 0
        lo, hi = 0, size
        while lo < hi:
            mid = (lo + hi) // 2
            if norm.orig(mid) < orig_pos:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _resolve_role(
        self,
        ri: int,
        s: int,
        e: int,
        ntext: str,
        day: dt.date | None,
        person_spans: list[tuple[int, int]],
    ) -> int | None:
        if day is None:
            return None  # no date, no honest way to know who held the office
        if _FORMER.search(ntext[max(0, s - 30) : s]) or _ROLE_BREAK.match(ntext[e : e + 24]):
            return None
        for ps, pe in person_spans:
            if 0 <= ps - e <= 5 and _NAME_GAP_AFTER.fullmatch(ntext[e:ps]):
                return None  # "Roscosmos chief Dmitry Rogozin": the name is already credited
            if 0 <= s - pe <= 24 and _NAME_GAP_BEFORE.fullmatch(ntext[pe:s]):
                return None  # "Yuri Borisov, the head of Roscosmos"
        best: tuple[dt.date, int] | None = None
        for start, end, ai in self._role_holders[ri]:
            if start <= day and (end is None or day <= end) and (best is None or start > best[0]):
                best = (start, ai)
        return best[1] if best else None

    def _mention(
        self, ai: int, hits: list[tuple[int, int, str, str]], full: str, offset: int
    ) -> ActorMention:
        a = self._actors[ai]
        hits.sort()
        spans = tuple((s - offset, e - offset) for s, e, _, _ in hits if s >= offset)
        ev: list[str] = []
        for s, e, _via, note in hits:
            if len(ev) >= _MAX_ACTOR_EVIDENCE:
                break
            if note:
                snippet = note
            else:
                lo, hi = max(0, s - _SNIPPET), min(len(full), e + _SNIPPET)
                snippet = _clean(full[lo:hi])
                if lo > 0:
                    snippet = "…" + snippet
                if hi < len(full):
                    snippet += "…"
            if snippet not in ev:
                ev.append(snippet)
        return ActorMention(
            id=a.id,
            name=a.name,
            kind=a.kind,
            mentions=len(hits),
            evidence=tuple(ev),
            spans=spans,
            via=tuple(sorted({h[2] for h in hits})),
        )

    @staticmethod
    def _theme_score(
        hits: list[tuple[int, int, float]], ntext: str, body_start: int
    ) -> tuple[float, tuple[str, ...]]:
        per: dict[str, list[float]] = {}
        for s, e, w in hits:
            phrase = ntext[s:e]
            rec = per.setdefault(phrase, [w, 0, 0])
            if s < body_start:
                rec[2] = 1
            rec[1] += 1
        raw = 0.0
        for w, n, in_title in per.values():
            contrib = w * (1 + _REPEAT_BONUS * min(n - 1, _REPEAT_CAP))
            if in_title and w > 0:
                contrib *= _TITLE_BOOST
            raw += contrib
        ranked = sorted(per.items(), key=lambda kv: -kv[1][0] * (1 + kv[1][1]))
        return raw, tuple(p for p, rec in ranked[:_MAX_EVIDENCE] if rec[0] > 0)

    def _vector(
        self, result: TagResult, scores: dict[int, float] | None = None
    ) -> dict[str, float]:
        vec = {f"a:{m.id}": math.log1p(m.mentions) for m in result.actors}
        if scores is not None:
            vec.update({f"t:{self._themes[ti].id}": sc for ti, sc in scores.items()})
        else:
            vec.update({f"t:{t.id}": t.score for t in result.themes})
        return vec

    # -- discovery ------------------------------------------------------------------------

    def covers(self, name: str) -> bool:
        """True when some registry alias, metonym or role phrase occurs in `name`."""
        norm = _Norm(name).text
        size = len(norm)
        for end, (klen, flags, entries) in self._automaton.iter(norm):
            start = end - klen + 1
            if not flags & _F_HAN:
                if flags & _F_LEAD and start > 0 and _wordch(norm[start - 1]):
                    continue
                if flags & _F_TRAIL and end + 1 < size and _wordch(norm[end + 1]):
                    continue
            if any(en.kind in (_ALIAS, _METONYM, _ROLE) for en in entries):
                return True
        return False


def _unfold_evidence(
    evidence: tuple[str, ...],
    hits: list[tuple[int, int, float]],
    ntext: str,
    full: str,
    norm: _Norm,
) -> tuple[str, ...]:
    """Chinese and Japanese evidence as written: folding turned Traditional into Simplified."""
    if not any(_HAN_RE.search(phrase) for phrase in evidence):
        return evidence
    first: dict[str, tuple[int, int]] = {}
    for s, e, _w in hits:
        first.setdefault(ntext[s:e], (s, e))
    out = []
    for phrase in evidence:
        s, e = first[phrase]
        out.append(_clean(full[norm.orig(s) : norm.orig_end(e)]).lower())
    return tuple(out)


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def build_tagger(
    registry: Registry, corpus: Sequence[SeedDocument] = (), model: Model | None = None
) -> Tagger:
    """Compile the registry (and the seed corpus vectors) once; reuse the tagger for every text.

    With a `model` (spacewatch.seeds.model), relevance and the model's themes are its calibrated
    scores over the registry's hits and the text (see `Tagger._apply_model`)."""
    return Tagger(registry, tuple(corpus), model)


# ---------------------------------------------------------------------------------------------
# Emerging-actor discovery

_CAP_WORD = r"(?:[A-Z][a-z]+(?:['’-][A-Za-z]+)*|[A-Z]{2,}[a-z]?|[А-ЯЁ][а-яё]+(?:-[А-ЯЁа-яё]+)*)"
_CONNECTOR = r"(?:of|de|du|del|der|von|van|al|bin|for|и)"
_NAME_RE = re.compile(rf"\b{_CAP_WORD}(?:[ \t]+(?:{_CONNECTOR}[ \t]+)?{_CAP_WORD})+\b")
_LEADING_STOP = frozenset(
    _words(
        "The A An In On At But And For After When While This That These Those Its His Her "
        "Their Our Mr Mrs Ms Dr Sir Lord President Vice Prime Minister Senator General Chief "
        "Secretary Deputy Administrator Acting Former Director Head Last Next Since During If "
        "As So Yet Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February "
        "March April May June July August September October November December According Under "
        "Without Despite How What Why Where Who We They He She It Some Many Most All Several "
        "Both Each"
    )
)
_TRAILING_STOP = frozenset(
    _words(
        "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May "
        "June July August September October November December"
    )
)


def _split_name(raw: str) -> str:
    words = raw.split()
    while words and words[0] in _LEADING_STOP:
        words.pop(0)
    while words and words[-1] in _TRAILING_STOP:
        words.pop()
    while words and words[-1] in {
        "of",
        "de",
        "du",
        "del",
        "der",
        "von",
        "van",
        "al",
        "bin",
        "for",
        "и",
    }:
        words.pop()
    return " ".join(words) if len(words) >= 2 else ""


def discover_candidates(
    tagger: Tagger,
    articles: Iterable[tuple[str, str] | str],
    *,
    min_documents: int = 2,
    only_relevant: bool = True,
    max_examples: int = 5,
    limit: int = 50,
) -> tuple[Candidate, ...]:
    """Capitalised multi-word names recurring across (relevant) articles that no alias covers.

    `articles` are `(article_id, text)` pairs or bare texts (their position is the id).
    Ranked by the number of documents, then occurrences.
    """
    counts: Counter[str] = Counter()
    docs: dict[str, list[str]] = defaultdict(list)
    covered: dict[str, bool] = {}
    for i, item in enumerate(articles):
        if isinstance(item, tuple):
            art_id, text = str(item[0]), _as_text(item[1])
        else:
            art_id, text = str(i), _as_text(item)
        text = text[:MAX_TEXT_CHARS]
        if only_relevant and not tagger.tag(text, _seeds=False).relevant:
            continue
        seen_here: set[str] = set()
        for m in _NAME_RE.finditer(text):
            name = _split_name(m.group(0))
            if not name:
                continue
            if name not in covered:
                covered[name] = tagger.covers(name)
            if covered[name]:
                continue
            counts[name] += 1
            if name not in seen_here:
                seen_here.add(name)
                docs[name].append(art_id)
    ranked = sorted(
        (n for n in counts if len(docs[n]) >= min_documents),
        key=lambda n: (-len(docs[n]), -counts[n], n),
    )
    return tuple(
        Candidate(n, counts[n], len(docs[n]), tuple(docs[n][:max_examples])) for n in ranked[:limit]
    )
