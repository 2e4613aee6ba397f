"""Each stage's settings become its frozen policy once, in the configuration (spacewatch/config.py):
every field of a policy comes from its setting, and a policy is built once per configuration."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from helpers import write_config
from spacewatch.config import load_config


def test_policies_carry_every_setting_and_are_built_once(tmp_path: Path) -> None:
    config = load_config(
        write_config(
            tmp_path,
            [("http://127.0.0.1:9/feed", None)],
            health="feed_dead_after_h = 12\ningest_drop_ratio = 0.5",
        )
    )
    fetch, backoff, health = config.fetch_policy, config.backoff_policy, config.health_policy
    assert config.fetch_policy is fetch and config.health_policy is health  # built once
    for field in dataclasses.fields(fetch):
        assert getattr(fetch, field.name) == getattr(config.fetch, field.name), field.name
    for field in dataclasses.fields(health):
        assert getattr(health, field.name) == getattr(config.health, field.name), field.name
    assert health.feed_dead_after_h == 12 and health.ingest_drop_ratio == 0.5
    assert (backoff.base_s, backoff.max_s, backoff.redirect_confirmations) == (
        config.fetch.backoff_base_s,
        config.fetch.backoff_max_s,
        config.fetch.redirect_confirmations,
    )
    assert dataclasses.is_dataclass(fetch) and fetch.__dataclass_params__.frozen  # type: ignore[attr-defined]
