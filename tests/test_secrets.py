"""Apprise URLs kept in Prefect Secret blocks reach a real mail server; a missing block is named."""

from __future__ import annotations

from pathlib import Path

import pytest
from receivers import smtp_server

from spacewatch.flows.config import SubscriberConfig
from spacewatch.flows.delivery import destinations, send_test


def test_secret_block_url_delivers_and_stays_masked(prefect_harness: None) -> None:
    from prefect.blocks.system import Secret

    with smtp_server() as server:
        Secret(value=server.url("ops@example.com")).save("ops-mail", overwrite=True)
        subscriber = SubscriberConfig(name="ops", urls=("secret:ops-mail",), topics=())

        targets, problems = destinations(subscriber)
        assert problems == []
        assert [t.label for t in targets] == ["ops/secret:ops-mail"]
        assert send_test(subscriber, timeout_s=20) == [("ops/secret:ops-mail", None)]
        (mail,) = server.messages
    assert mail["To"] == "ops@example.com"
    assert mail["Subject"] == "Spacewatch test message"


def test_missing_or_empty_secret_block_is_a_named_problem(prefect_harness: None) -> None:
    from prefect.blocks.system import Secret

    Secret(value=" ").save("blank-url", overwrite=True)
    subscriber = SubscriberConfig(name="ops", urls=("secret:no-such-block", "secret:blank-url"), topics=())
    targets, problems = destinations(subscriber)
    assert targets == []
    assert problems == [
        "destination #1: Prefect Secret block 'no-such-block' not found",
        "destination #2: Prefect Secret block 'blank-url' holds no URL",
    ]


def test_deployed_runs_find_their_config_in_a_prefect_variable(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from prefect.variables import Variable

    from spacewatch.flows.run_config import CONFIG_VARIABLE, run_config_path

    monkeypatch.delenv("SPACEWATCH_CONFIG", raising=False)
    Variable.set(CONFIG_VARIABLE, str(tmp_path / "from-variable.toml"), overwrite=True)
    try:
        assert run_config_path(None) == tmp_path / "from-variable.toml"
        monkeypatch.setenv("SPACEWATCH_CONFIG", str(tmp_path / "from-env.toml"))
        assert run_config_path(None) == tmp_path / "from-env.toml"
        assert run_config_path("given.toml") == Path("given.toml")
    finally:
        Variable.unset(CONFIG_VARIABLE)
    monkeypatch.delenv("SPACEWATCH_CONFIG")
    assert run_config_path(None) == Path("spacewatch.toml")
