"""Topics and subscriptions from the configuration, checked against the tagger's registries."""

from __future__ import annotations

from spacewatch.alerts.rules import RuleError, Subscription, TopicRule, build_rule, check_rule_ids
from spacewatch.config import Config, ConfigError
from spacewatch.seeds.registry import Registry

Subscriptions = dict[str, tuple[Subscription, ...]]


def load_rules(config: Config, registry: Registry) -> tuple[tuple[TopicRule, ...], Subscriptions]:
    """Compiled rules and who follows each topic; a bad rule is a ConfigError naming it."""
    themes = {t.id for t in registry.themes}
    actors = {a.id for a in registry.actors}
    rules = []
    for index, topic in enumerate(config.topics, start=1):
        try:
            rule = build_rule(topic.model_dump())
            check_rule_ids(rule, themes, actors)
        except RuleError as exc:
            raise ConfigError(f"{config.source}: [[topics]] #{index} ({topic.id}): {exc}") from None
        rules.append(rule)
    subscriptions: dict[str, list[Subscription]] = {}
    for sub in config.subscribers:
        for topic_id in sub.topics:
            subscriptions.setdefault(topic_id, []).append(Subscription(sub.name, sub.mode))
    return tuple(rules), {k: tuple(v) for k, v in subscriptions.items()}
