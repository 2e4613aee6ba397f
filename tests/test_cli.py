"""The `spacewatch` command as a user runs it: a real process, exit codes and its output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from helpers import sample_feeds, write_config
from spacewatch.cli.main import app
from spacewatch.loopback import LoopbackServer
from spacewatch.warehouse.connect import writer_lock

SPACEWATCH = str(Path(sys.executable).with_name("spacewatch"))


def spacewatch(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SPACEWATCH, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def command_names() -> list[str]:
    """Every command path, sub-commands included: "run", "alerts retry"..."""

    def walk(group: Any, prefix: str) -> list[str]:
        names = []
        for name, command in group.commands.items():
            names.append(f"{prefix}{name}")
            if hasattr(command, "commands"):
                names += walk(command, f"{prefix}{name} ")
        return names

    return sorted(walk(typer.main.get_group(app), ""))


def test_every_command_has_help_with_an_example() -> None:
    names = command_names()
    assert {"run", "feeds", "demo", "tag", "retag", "alerts", "alerts test", "topics backtest"} <= set(names)
    for name in names:
        result = spacewatch(*name.split(), "--help")
        assert result.returncode == 0, (name, result.stderr)
        assert "Example" in result.stdout, name
        assert "spacewatch " + name in result.stdout, name


def test_invalid_config_is_one_line_naming_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[fetch]\ntimeout_s = "soon"\n', encoding="utf-8")
    result = spacewatch("run", "--config", str(config))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert str(config) in lines[0] and "[fetch] timeout_s" in lines[0]
    assert "Traceback" not in result.stderr

    config.write_text('[[feeds]]\nurl = "https://example.org/feed"\ncolour = "red"\n', encoding="utf-8")
    result = spacewatch("run", "--config", str(config))
    assert result.returncode == 2
    assert "[[feeds]] #1 colour: unknown key" in result.stderr

    config.write_text('[[feeds]]\nurl = "gopher://example.org/feed"\n', encoding="utf-8")
    result = spacewatch("feeds", "--config", str(config))
    assert result.returncode == 2 and "not an http(s) URL" in result.stderr


def test_missing_config_and_missing_warehouse(tmp_path: Path) -> None:
    result = spacewatch("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "spacewatch.toml: configuration file not found" in result.stderr

    config = write_config(tmp_path, [("https://example.org/feed", None)])
    result = spacewatch("feeds", env={"SPACEWATCH_CONFIG": str(config)}, cwd=tmp_path)
    assert result.returncode == 1
    assert "warehouse not found" in result.stderr


def test_busy_warehouse_exits_3_without_touching_it(tmp_path: Path) -> None:
    config = write_config(tmp_path, [("https://example.org/feed", None)])
    with writer_lock(tmp_path / "wh.duckdb"):
        result = spacewatch("run", "--config", str(config))
    assert result.returncode == 3
    assert "another Spacewatch run is writing this warehouse" in result.stderr
    assert f'"pid": {os.getpid()}' in result.stderr
    assert not (tmp_path / "wh.duckdb").exists()


@pytest.mark.slow
def test_run_then_feeds_on_the_sample(tmp_path: Path, sample_server: LoopbackServer) -> None:
    config = write_config(tmp_path, [*sample_feeds(sample_server.base_url), ("http://127.0.0.1:9/gone.xml", "gone")])
    result = spacewatch("run", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "articles: 20 new" in result.stdout
    assert "1 failed" in result.stdout and "gone.xml" in result.stdout

    result = spacewatch("feeds", "--config", str(config))
    assert result.returncode == 0, result.stderr
    for _, name in sample_feeds(sample_server.base_url):
        assert name in result.stdout
    assert "could not connect" in result.stdout
