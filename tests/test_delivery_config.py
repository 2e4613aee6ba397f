"""Settings that would silently stop delivery are refused when the config is loaded: exit 2 and
one line naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from spacewatch.config import ConfigError, parse_config

SPACEWATCH = str(Path(sys.executable).with_name("spacewatch"))
TOPIC = '[[topics]]\nid = "t"\nname = "T"\nthemes = ["moon_base_ilrs"]\n'


def subscriber(extra: str = "", urls: str = '["json://127.0.0.1:9/x"]', topics: str = '["t"]') -> str:
    return f'{TOPIC}[[subscribers]]\nname = "desk"\nurls = {urls}\ntopics = {topics}\n{extra}'


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (subscriber('quiet_hours_utc = "7-7"'), "[[subscribers]] #1 quiet_hours_utc", "same hour"),
        (subscriber('quiet_hours_utc = "07-7"'), "[[subscribers]] #1 quiet_hours_utc", "same hour"),
        (subscriber(urls="[]"), "[[subscribers]] #1 urls", "would receive nothing"),
        (subscriber(urls='["json://127.0.0.1:9/x", " "]'), "[[subscribers]] #1 urls", "destination #2 is empty"),
        (subscriber(topics="[]"), "[[subscribers]] #1 topics", "would receive nothing"),
    ],
)
def test_settings_that_would_silently_stop_delivery_are_refused(
    tmp_path: Path, text: str, key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(text, tmp_path / "s.toml")
    message = str(err.value)
    assert f"{tmp_path / 's.toml'}: {key}" in message and words in message, message
    assert "\n" not in message


def test_quiet_hours_that_do_deliver_and_operators_without_topics_are_accepted(tmp_path: Path) -> None:
    cfg = parse_config(subscriber('quiet_hours_utc = "22-07"'), tmp_path / "s.toml")
    assert cfg.subscribers[0].quiet_hours_utc == "22-07"
    ops = subscriber(topics="[]").replace('name = "desk"', 'name = "ops"')
    assert parse_config(f'[health]\nnotify = ["ops"]\n{ops}', tmp_path / "s.toml").health.notify == ("ops",)


def test_equal_quiet_hours_stop_the_cli_with_exit_2_and_one_line(tmp_path: Path) -> None:
    config = tmp_path / "spacewatch.toml"
    config.write_text(
        '[warehouse]\npath = "wh.duckdb"\n' + subscriber('quiet_hours_utc = "7-7"'), encoding="utf-8"
    )
    result = subprocess.run(
        [SPACEWATCH, "run", "--config", str(config)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stdout + result.stderr
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1 and "[[subscribers]] #1 quiet_hours_utc" in lines[0], lines
    assert not (tmp_path / "wh.duckdb").exists()
