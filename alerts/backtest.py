"""`spacewatch topics backtest`: how many alerts a rule would have fired over stored articles.

Each matching story is judged as the pipeline judged it when it first matched: the first
matching copy makes the alert (one per story), and a story older than `max_age_h` then is
counted as kept 'stale', not sent. Nothing is sent or stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from spacewatch.alerts.rules import TopicRule, match_topic, stale_reason
from spacewatch.seeds.tagger import Tagger


@dataclass(frozen=True)
class Match:
    when: datetime
    title: str | None
    site: str | None
    url: str | None
    evidence: tuple[str, ...]
    stale: str | None  # why it would have been kept, not sent; None when it would be sent


@dataclass
class Backtest:
    checked: int = 0  # articles read
    matched: int = 0  # articles the rule matched
    stories: dict[int, Match] = field(default_factory=dict)  # story id -> its first match

    @property
    def stale(self) -> int:
        return sum(1 for m in self.stories.values() if m.stale is not None)

    @property
    def fresh(self) -> int:
        return len(self.stories) - self.stale

    def newest(self, count: int) -> list[Match]:
        return sorted(self.stories.values(), key=lambda m: m.when, reverse=True)[:count]


def backtest(rule: TopicRule, tagger: Tagger, rows: list[tuple], max_age_h: float) -> Backtest:
    """Replay `rows` (`warehouse.reads.articles_as_first_seen`) through the tagger and `rule`."""
    result = Backtest(checked=len(rows))
    for _aid, story, title, text, when, site, url, published, seen, first_seen in rows:
        evidence = match_topic(
            rule, tagger.tag(text or "", title=title, published=when), text, title
        )
        if evidence is None:
            continue
        result.matched += 1
        if story not in result.stories:
            stale = stale_reason(published, seen, first_seen, max_age_h)
            result.stories[story] = Match(when, title, site, url, tuple(evidence), stale)
    return result
