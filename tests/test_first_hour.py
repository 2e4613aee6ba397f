"""What a new operator meets in the first hour: configuration checked at load (Apprise URLs,
every key documented in the example), `alerts test` giving Apprise's own reason, and help
texts that keep every word."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
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
    from spacewatch.alerts.redact import mask_secrets, secret_parts

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

    from spacewatch.cli.main import app

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


# --- quiet hours and digest hour in a time zone ---------------------------------------------


def _zoned_warehouse(tmp_path: Path, hook_url: str, subscriber: str, zone: str = "Asia/Tokyo") -> Path:
    config = write_config(tmp_path, [("http://127.0.0.1:9/feed.xml", None)])
    config.write_text(
        config.read_text()
        + f'\n[alerts]\ntimezone = "{zone}"\ntimeout_s = 10\nmin_interval_s = 0\n'
        + '\n[[topics]]\nid = "lunar"\nname = "Lunar"\nthemes = ["moon_base_ilrs"]\n'
        + f'\n[[subscribers]]\nname = "desk"\nurls = ["{hook_url}"]\ntopics = ["lunar"]\n{subscriber}\n',
        encoding="utf-8",
    )
    return config


def _waiting_alert(config: Path, status: str, created: object) -> None:
    from spacewatch.config import load_config
    from spacewatch.warehouse.connect import open_for_writing

    con = open_for_writing(load_config(config).warehouse_path)
    try:
        con.execute(
            """INSERT INTO articles (article_id, canonical_url, url, story_id, first_seen_at,
                   extraction_method, title) VALUES (1, 'https://x/1', 'https://x/1', 1, ?, 'none',
                   'Lunar base plans')""",
            [created],
        )
        con.execute(
            """INSERT INTO alerts (topic_id, rule_version, story_id, article_id, subscriber, mode,
                   severity, evidence, status, created_at, next_attempt_at)
               VALUES ('lunar', 'v1', 1, 1, 'desk', 'immediate', 'info', ['lunar base'], ?, ?, ?)""",
            [status, created, created],
        )
    finally:
        con.close()


def test_quiet_hours_are_read_in_the_alerts_time_zone(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from receivers import WebhookSink

    from helpers import query
    from spacewatch.alerts.delivery import deliver_due
    from spacewatch.config import load_config
    from spacewatch.warehouse.connect import open_for_writing

    # 14:00 UTC is 23:00 in Tokyo: inside 22-07 there, outside it in UTC.
    now = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
    with WebhookSink() as hook:
        config = _zoned_warehouse(tmp_path, hook.url(), 'quiet_hours = "22-07"')
        _waiting_alert(config, "pending", now)
        cfg = load_config(config)
        con = open_for_writing(cfg.warehouse_path)
        try:
            held = deliver_due(con, cfg, now)
            later = deliver_due(con, cfg, datetime(2026, 3, 10, 22, 0, tzinfo=UTC))  # 07:00 Tokyo
        finally:
            con.close()
    assert (held.deferred, held.sent) == (1, 0)
    assert later.sent == 1 and len(hook.posts) == 1
    # It waited until 07:00 in Tokyo, 22:00 UTC.
    assert query(cfg.warehouse_path, "SELECT status, sent_at FROM alerts") == [
        ("sent", datetime(2026, 3, 10, 22, 0, tzinfo=UTC))
    ]


def test_the_digest_hour_is_read_in_the_alerts_time_zone(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from receivers import WebhookSink

    from spacewatch.alerts.delivery import send_digests
    from spacewatch.config import load_config
    from spacewatch.warehouse.connect import open_for_writing

    with WebhookSink() as hook:
        config = _zoned_warehouse(tmp_path, hook.url(), 'mode = "digest"\ndigest_hour = 8')
        _waiting_alert(config, "digest", datetime(2026, 3, 9, 12, 0, tzinfo=UTC))
        cfg = load_config(config)
        con = open_for_writing(cfg.warehouse_path)
        try:
            # The last digest went out on 9 March at 08:00 Tokyo (23:00 UTC on the 8th).
            con.execute("INSERT INTO digests VALUES ('desk', ?)", [datetime(2026, 3, 8, 23, 0, tzinfo=UTC)])
            early = send_digests(con, cfg, datetime(2026, 3, 9, 22, 30, tzinfo=UTC))  # 07:30 Tokyo
            due = send_digests(con, cfg, datetime(2026, 3, 9, 23, 5, tzinfo=UTC))  # 08:05 Tokyo
        finally:
            con.close()
    assert early.digests == 0 and due.digests == 1 and len(hook.posts) == 1


def test_alert_hours_take_one_spelling_and_a_known_zone(tmp_path: Path) -> None:
    from spacewatch.config import ConfigError, parse_config

    base = '[[topics]]\nid = "t"\nname = "T"\nthemes = ["x"]\n[[subscribers]]\nname = "desk"\nurls = ["json://127.0.0.1:9/h"]\ntopics = ["t"]\n'
    cfg = parse_config('[schedule]\ntimezone = "Europe/Paris"\n' + base + 'quiet_hours = "22-07"\n', tmp_path / "s.toml")
    spec, zone = cfg.quiet_hours_of(cfg.subscribers[0])
    assert (spec, str(zone)) == ("22-07", "Europe/Paris")  # [alerts] timezone defaults to [schedule]'s
    hour, zone = cfg.digest_hour_of(cfg.subscribers[0])
    assert (hour, str(zone)) == (7, "Europe/Paris")
    cfg = parse_config(base + "digest_hour_utc = 6\n", tmp_path / "s.toml")
    assert [str(x) for x in cfg.digest_hour_of(cfg.subscribers[0])] == ["6", "UTC"]
    with pytest.raises(ConfigError, match=r"give digest_hour .* or digest_hour_utc, not both"):
        parse_config(base + "digest_hour = 6\ndigest_hour_utc = 6\n", tmp_path / "s.toml")
    with pytest.raises(ConfigError, match=r"\[alerts\] timezone: unknown time zone 'Mars/Olympus'"):
        parse_config('[alerts]\ntimezone = "Mars/Olympus"\n', tmp_path / "s.toml")


# --- the example configuration lists every key ---------------------------------------------


def _sections() -> dict[str, set[str]]:
    """Section name -> keys the loader accepts, from the configuration model itself."""
    import typing

    from pydantic import BaseModel

    from spacewatch.config import Config

    found = {}
    for name, field in Config.model_fields.items():
        kind = field.annotation
        for arg in (kind, *typing.get_args(kind)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                found[name] = set(arg.model_fields)
    return found


def test_the_example_configuration_lists_every_key_and_loads() -> None:
    import re

    from spacewatch.config import (
        AlertsConfig,
        DedupeConfig,
        FetchConfig,
        MaintenanceConfig,
        RunnerConfig,
        ScheduleConfig,
        WarehouseConfig,
        load_config,
    )

    example = ROOT / "deploy" / "spacewatch.example.toml"
    text = example.read_text(encoding="utf-8")
    header = re.compile(r"^#?\s*\[\[?([a-z_]+)\]\]?\s*$", re.M)
    blocks: dict[str, str] = {}
    marks = list(header.finditer(text))
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following else len(text)
        blocks[mark.group(1)] = blocks.get(mark.group(1), "") + text[mark.end() : end]
    sections = _sections()
    assert set(sections) <= set(blocks), set(sections) - set(blocks)
    missing = [
        f"[{section}] {key}"
        for section, keys in sections.items()
        for key in sorted(keys)
        if not re.search(rf"^#?\s*{key}\s*=", blocks[section], re.M)
    ]
    assert missing == [], f"keys missing from {example.name}: {missing}"

    cfg = load_config(example)
    # The sections the example sets in full state the defaults.
    for section, model in (
        ("warehouse", WarehouseConfig),
        ("fetch", FetchConfig),
        ("dedupe", DedupeConfig),
        ("runner", RunnerConfig),
        ("alerts", AlertsConfig),
        ("schedule", ScheduleConfig),
        ("maintenance", MaintenanceConfig),
    ):
        assert getattr(cfg, section) == model(), section


def test_the_documented_mail_urls_are_accepted_and_name_their_server() -> None:
    import re

    import apprise

    from spacewatch.alerts.apprise_check import check_apprise_url

    docs = [ROOT / "deploy" / "spacewatch.example.toml", ROOT / "deploy" / "README.md"]
    urls = {u for doc in docs for u in re.findall(r"mailtos?://[^\s`\"']+", doc.read_text("utf-8"))}
    urls = {u for u in urls if "127.0.0.1" not in u}  # those are sample output, not forms
    assert len(urls) >= 3, urls
    for url in urls:
        assert check_apprise_url(url) is None, url
        plugin = apprise.Apprise.instantiate(url)
        assert plugin.smtp_host in ("smtp.example.org", "relay.internal"), url
        if ":465" in url:
            assert plugin.secure_mode == "ssl", url
        elif url.startswith("mailtos://"):
            assert plugin.secure_mode == "starttls", url
