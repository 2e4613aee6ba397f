"""Error lines are formatted in one place, and promise only flags the command really has."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import typer.main
from test_cli import command_names, spacewatch

from helpers import write_config
from spacewatch.cli import feeds as feeds_command
from spacewatch.cli import main as cli
from spacewatch.warehouse.connect import open_for_writing, writer_lock


def flags_of(name: str) -> set[str]:
    command = typer.main.get_command(cli.app)
    for part in name.split():
        command = command.commands[part]  # type: ignore[attr-defined]
    return {opt for param in command.params for opt in param.opts}


@pytest.mark.parametrize("name", command_names())
def test_every_error_line_names_only_flags_the_command_has(name: str) -> None:
    flags = cli.command_flags([*name.split(), "--config", "x.toml"])
    assert flags == flags_of(name)
    for exc in (
        RuntimeError("boom"),
        cli.Fail("busy", cli.EXIT_BUSY),
        cli.Fail("bad", cli.EXIT_CONFIG),
    ):
        line = cli.error_line(exc, flags)
        promised = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", line))
        assert promised <= flags, (name, line)


def test_verbose_and_wait_are_offered_exactly_where_they_exist() -> None:
    assert "--verbose" in cli.error_line(RuntimeError("x"), cli.command_flags(["run"]))
    assert "--verbose" not in cli.error_line(RuntimeError("x"), cli.command_flags(["feeds"]))
    busy = cli.Fail("held", cli.EXIT_BUSY)
    assert "--wait" in cli.error_line(busy, cli.command_flags(["maintenance"]))
    assert "--wait" not in cli.error_line(busy, cli.command_flags(["alerts", "retry"]))


def test_busy_warehouse_lines_through_the_real_cli(tmp_path: Path) -> None:
    config = write_config(tmp_path, [("https://example.org/feed", None)])
    open_for_writing(tmp_path / "wh.duckdb").close()
    with writer_lock(tmp_path / "wh.duckdb"):
        maintenance = spacewatch("maintenance", "--config", str(config))
        retry = spacewatch("alerts", "retry", "--config", str(config))
        restore = spacewatch("restore", str(tmp_path / "wh.duckdb"), "--config", str(config))
    assert maintenance.returncode == retry.returncode == restore.returncode == 3
    assert "another Spacewatch run is writing" in retry.stderr
    assert "--wait" in maintenance.stderr  # `maintenance --wait` exists
    assert "--wait" not in retry.stderr and "--wait" not in restore.stderr  # theirs does not


def test_an_unexpected_error_is_one_line_without_a_false_promise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, [("https://example.org/feed", None)])

    def broken(cfg: object) -> None:
        raise RuntimeError("the disk said no")

    monkeypatch.setattr(feeds_command, "open_reader", broken)
    monkeypatch.setattr(sys, "argv", ["spacewatch", "feeds", "--config", str(config)])
    monkeypatch.delenv("SPACEWATCH_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err == (
        "spacewatch: error: RuntimeError: the disk said no "
        "(run again with SPACEWATCH_DEBUG=1 for the traceback)\n"
    )
    monkeypatch.setenv("SPACEWATCH_DEBUG", "1")  # and that promise holds
    with pytest.raises(SystemExit):
        cli.main()
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and 'raise RuntimeError("the disk said no")' in err


def test_a_bad_until_names_until(tmp_path: Path) -> None:
    config = write_config(tmp_path, [("https://example.org/feed", None)])
    result = spacewatch("search", "x", "--until", "soon", "--config", str(config))
    assert result.returncode == 1
    assert result.stderr.startswith("spacewatch: error: --until 'soon': expected")
