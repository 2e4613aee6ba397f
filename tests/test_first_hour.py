"""What a new operator meets in the first hour: configuration checked at load (Apprise URLs,
every key documented in the example), `alerts test` giving Apprise's own reason, and help
texts that keep every word."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from receivers import free_port, smtp_server

from helpers import write_config

SPACEWATCH = str(Path(sys.executable).with_name("spacewatch"))
ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "pw-Zq81marker"


def spacewatch(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SPACEWATCH, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def with_subscriber(tmp_path: Path, *urls: str) -> Path:
    config = write_config(tmp_path, [("http://127.0.0.1:9/feed.xml", None)])
    listed = ", ".join(f'"{u}"' for u in urls)
    config.write_text(
        config.read_text()
        + '\n[alerts]\ntimeout_s = 10\nmin_interval_s = 0\n'
        + '\n[[topics]]\nid = "lunar"\nname = "Lunar"\nthemes = ["moon_base_ilrs"]\n'
        + f'\n[[subscribers]]\nname = "desk"\nurls = [{listed}]\ntopics = ["lunar"]\n',
        encoding="utf-8",
    )
    return config


# --- Apprise URLs are parsed when the configuration is loaded --------------------------------


def test_a_mistyped_apprise_url_stops_at_load_naming_subscriber_and_index(tmp_path: Path) -> None:
    good = "json://127.0.0.1:9/hook"
    config = with_subscriber(tmp_path, good, f"malto://desk:{PASSWORD}@127.0.0.1:25?to=a@example.org")
    for command in (("run",), ("status",), ("alerts", "test", "desk")):
        result = spacewatch(*command, "--config", str(config))
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert f"{config}: [[subscribers]] #1: subscriber 'desk' urls #2: " in lines[0]
        assert "unknown Apprise scheme 'malto://' (did you mean 'mailto://'?)" in lines[0]
        assert PASSWORD not in result.stderr + result.stdout

    # From the environment (env:NAME), when it is set where the configuration is loaded.
    config = with_subscriber(tmp_path, "env:SPACEWATCH_DESK_URL")
    bad = {"SPACEWATCH_DESK_URL": f"slack://T1abc/{PASSWORD}"}
    result = spacewatch("status", "--config", str(config), env=bad)
    assert result.returncode == 2
    assert "subscriber 'desk' urls #1 (env:SPACEWATCH_DESK_URL): Apprise cannot use this slack:// URL" in result.stderr
    assert PASSWORD not in result.stderr


def test_a_mailto_url_without_a_server_is_refused_rather_than_guessed(tmp_path: Path) -> None:
    # Apprise would derive the SMTP server from the sender's domain and log in there.
    config = with_subscriber(tmp_path, f"mailto://desk:{PASSWORD}@?from=alerts@example.org&to=desk@example.org")
    result = spacewatch("alerts", "test", "desk", "--config", str(config))
    assert result.returncode == 2
    assert "subscriber 'desk' urls #1: this mailto:// URL names no SMTP server" in result.stderr
    assert PASSWORD not in result.stderr


# --- alerts test: Apprise's own reason, secrets masked -------------------------------------


def test_alerts_test_gives_apprises_reason_for_each_fault(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens here
    with smtp_server() as smtp:  # plain SMTP, no AUTH, no STARTTLS
        mail = f"127.0.0.1:{smtp.port}?from=alerts@example.org&to=desk@example.org"
        config = with_subscriber(
            tmp_path,
            f"mailto://desk:{PASSWORD}@{mail}",  # credentials for a server without AUTH
            f"mailtos://{mail}",  # TLS against a plain server
            f"mailto://127.0.0.1:{closed}?from=alerts@example.org&to=desk@example.org",
            f"mailto://{mail}",  # this one works
        )
        result = spacewatch("alerts", "test", "desk", "--config", str(config))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [" ".join(line.split()) for line in result.stdout.strip().splitlines()]
    assert len(lines) == 4, lines
    assert lines[0].startswith("failed") and "SMTP AUTH extension not supported by server" in lines[0]
    assert lines[1].startswith("failed") and "STARTTLS extension not supported by server" in lines[1]
    assert lines[2].startswith("failed") and "Connection refused" in lines[2]
    assert lines[3].startswith("ok")
    assert len(smtp.messages) == 1
    assert PASSWORD not in result.stdout + result.stderr


def test_secret_parts_cover_credentials_but_not_plain_words() -> None:
    from spacewatch.flows.apprise_check import mask_secrets, secret_parts

    url = (
        f"json://user:{PASSWORD}@hooks.example.org/path/tok-{PASSWORD}?+Authorization=Bearer%20"
        f"{PASSWORD}b&-apikey={PASSWORD}c&format=html&to=desk@example.org"
    )
    text = (
        f"Failed to send to hooks.example.org as user with {PASSWORD}, tok-{PASSWORD}, "
        f"Bearer {PASSWORD}b, {PASSWORD}c in html to desk@example.org"
    )
    masked = mask_secrets(text, secret_parts(url))
    assert PASSWORD not in masked
    assert "hooks.example.org" in masked and "html" in masked and "desk@example.org" in masked
    # Tokens in the host position (Discord, Slack, Telegram) are masked too.
    assert "T1abcdef" not in mask_secrets("bad token T1abcdef", secret_parts("slack://T1abcdef/B2/C3"))


# --- help texts keep every bracketed word --------------------------------------------------


def test_every_help_text_keeps_its_bracketed_words() -> None:
    """`[health]`, `[schedule]`...: Rich markup used to eat them from --help."""
    import inspect
    import re
    import typing

    import typer.main
    from typer.models import ParameterInfo
    from typer.testing import CliRunner

    from spacewatch.flows.cli import app

    def walk(group: object, path: list[str]) -> list[tuple[list[str], object]]:
        found = []
        for name, command in group.commands.items():  # type: ignore[attr-defined]
            found.append(([*path, name], command))
            if hasattr(command, "commands"):
                found += walk(command, [*path, name])
        return found

    bracketed = re.compile(r"\[\[?[a-z_][a-z_ ]*\]\]?")
    runner = CliRunner()
    checked = set()
    for path, command in walk(typer.main.get_group(app), []):
        callback = getattr(command.callback, "__wrapped__", command.callback)  # type: ignore[attr-defined]
        texts = [inspect.getdoc(callback) or ""] if callback else []
        hints = typing.get_type_hints(callback, include_extras=True) if callback else {}
        for hint in hints.values():
            texts += [m.help or "" for m in getattr(hint, "__metadata__", ()) if isinstance(m, ParameterInfo)]
        words = set(bracketed.findall("\n".join(texts).replace("\\[", "[")))
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
        assert result.exit_code == 0, (path, result.output)
        shown = " ".join(result.output.replace("│", " ").split())
        for word in words:
            assert word in shown, (path, word, shown)
            checked.add(word)
    assert {"[health]", "[maintenance]", "[schedule]", "[tagging]"} <= checked
