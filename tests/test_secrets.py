"""Apprise URLs kept in Prefect Secret blocks reach a real mail server; a missing block is named."""

from __future__ import annotations

from pathlib import Path

import pytest
from receivers import smtp_server

from spacewatch.alerts.delivery import destinations, send_test
from spacewatch.config import SubscriberConfig


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


# --- no credential from a destination URL is ever stored or printed -------------------------

# One marker per place a credential can sit in a destination; none may appear anywhere.
MARKERS = {
    "user": "Mk1UserQx",
    "password": "Mk2PassQx",
    "path": "Mk3PathTokQx",
    "query": "Mk4QueryQx",
    "header": "Mk5HeaderQx",
    "field": "Mk6FieldQx",
    "env": "Mk7EnvQx",
    "var": "Mk8VarQx",
    "secret": "Mk9SecretQx",
    "mail_user": "Mk10MailUserQx",
    "mail_password": "Mk11MailPassQx",
    "down_password": "Mk12DownPassQx",
    "down_header": "Mk13DownHdrQx",
}


def _leaks(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        return [name for name, m in MARKERS.items() if m.encode() in text]
    return [name for name, m in MARKERS.items() if m in text]


def _dump_database(path: Path) -> str:
    """Every row of every table and view, as text (string compression can hide bytes)."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        names = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
        dumps = []
        for (name,) in names:
            rows = con.execute('SELECT * FROM "' + name + '"').fetchall()
            dumps.append(f"{name}: {rows}")
        return "\n".join(dumps)
    finally:
        con.close()


def test_no_destination_credential_is_stored_or_printed(
    prefect_harness: None,
    tmp_path: Path,
    sample_server: object,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    import os
    import subprocess
    import sys

    from prefect.blocks.system import Secret
    from prefect.client.orchestration import get_client
    from receivers import WebhookSink

    from helpers import sample_feeds, write_config
    from spacewatch.flows import pipeline

    m = MARKERS
    spacewatch = str(Path(sys.executable).with_name("spacewatch"))
    with WebhookSink() as hook, smtp_server() as smtp:
        port = hook.server.server_address[1]
        everything = (
            f"json://{m['user']}:{m['password']}@127.0.0.1:{port}/hook/{m['path']}"
            f"?opt={m['query']}&+Authorization=Bearer%20{m['header']}&-apikey={m['field']}"
        )
        form = f"form://127.0.0.1:{port}/form?-apikey={m['field']}"
        mail = smtp.url().replace("mailto://", f"mailto://{m['mail_user']}:{m['mail_password']}@")
        down = f"json://ops:{m['down_password']}@127.0.0.1:9/x?+X-Token={m['down_header']}"
        monkeypatch.setenv("SW_TEST_ENV_URL", f"json://127.0.0.1:{port}/env/{m['env']}")
        monkeypatch.setenv("SW_TEST_VAR_URL", f"json://127.0.0.1:{port}/var/{m['var']}")
        Secret(value=f"json://127.0.0.1:{port}/secret/{m['secret']}").save(
            "sw-test-hook", overwrite=True
        )
        config = write_config(tmp_path, sample_feeds(sample_server.base_url))  # type: ignore[attr-defined]
        urls = [everything, form, mail, down, "env:SW_TEST_ENV_URL", "${SW_TEST_VAR_URL}"]
        urls.append("secret:sw-test-hook")
        quoted = ", ".join(f'"{u}"' for u in urls)
        config.write_text(
            config.read_text()
            + f"""
[alerts]
timeout_s = 10
min_interval_s = 0
retry_base_s = 0

[health]
notify = ["ops"]
feed_dead_after_h = 0.0001

[[topics]]
id = "lunar"
name = "Lunar station"
themes = ["moon_base_ilrs"]

[[subscribers]]
name = "desk"
urls = [{quoted}]
topics = ["lunar"]

[[subscribers]]
name = "weekly"
urls = [{quoted}]
topics = ["lunar"]
mode = "digest"

[[subscribers]]
name = "ops"
urls = [{quoted}]
topics = []
""",
            encoding="utf-8",
        )
        # A feed that fails, so the health check finds a problem and notifies "ops".
        config.write_text(
            config.read_text() + '\n[[feeds]]\nurl = "http://127.0.0.1:9/dead.xml"\n',
            encoding="utf-8",
        )
        summary = pipeline.run_pipeline(config)
        assert summary.alerts_new > 0
        pipeline.digest_flow(str(config), force=True)

        env = {**os.environ}
        printed = []
        commands = [
            ["alerts", "retry"],
            ["alerts", "test", "desk"],
            ["alerts"],
            ["digest", "--force"],
            ["export", "--out", str(tmp_path / "export"), "--format", "csv"],
            ["report", "--out", str(tmp_path / "report.html"), "--since", "3650d"],
            ["status"],
            ["status", "--format", "json"],
            ["query", "SELECT * FROM v_alert_log"],
        ]
        for args in commands:
            result = subprocess.run(
                [spacewatch, *args, "--config", str(config)],
                capture_output=True, text=True, timeout=300, env=env,
            )  # fmt: skip
            printed.append((args, result.returncode, result.stdout + result.stderr))
        posts = len(hook.posts)

    # Delivery really happened through every kind of destination.
    assert posts > 0 and len(smtp.messages) == 0  # the mail server has no AUTH: it refuses
    for args, code, output in printed:
        assert code in (0, 1, 4), (args, output)
        assert not _leaks(output), (args, _leaks(output), output[-2000:])
    assert "desk/json://127.0.0.1" in printed[1][2]  # alerts test names destinations by label

    # Everything in the run's folder but the configuration itself: the warehouse, its
    # snapshot, WAL and backups, the export and the report.
    scanned = 0
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix != ".toml":
            assert not _leaks(path.read_bytes()), (path, _leaks(path.read_bytes()))
            scanned += 1
            if path.suffix == ".duckdb":
                dump = _dump_database(path)
                assert "alert_deliveries" in dump and not _leaks(dump), (path, _leaks(dump))
    assert (tmp_path / "report.html").exists() and any((tmp_path / "export").iterdir())
    assert scanned >= 4

    # What reached Prefect: artifacts, logs and events of the in-process flows.
    async def from_prefect() -> str:
        async with get_client() as client:
            artifacts = await client.read_artifacts()
            logs = await client.read_logs()
            runs = await client.read_flow_runs()
        return repr(artifacts) + repr(logs) + repr([r.parameters for r in runs])

    import asyncio

    seen = asyncio.run(from_prefect())
    assert "spacewatch-run-summary" in seen
    assert not _leaks(seen), _leaks(seen)
    captured = capfd.readouterr()
    assert not _leaks(captured.out + captured.err), _leaks(captured.out + captured.err)


def test_config_errors_never_show_an_expanded_value_or_a_destination(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spacewatch.config import ConfigError, parse_config

    source = tmp_path / "s.toml"
    monkeypatch.setenv("SW_TEST_FEED", f"ftp://{MARKERS['var']}@example.org/feed")
    with pytest.raises(ConfigError) as err:
        parse_config('[[feeds]]\nurl = "${SW_TEST_FEED}"\n', source)
    assert "[[feeds]] #1 url" in str(err.value) and "${SW_TEST_FEED}" in str(err.value)
    assert not _leaks(str(err.value)), str(err.value)
    # A subscriber's URL given as a string instead of a list is refused without echoing it.
    with pytest.raises(ConfigError) as err:
        parse_config(
            f'[[subscribers]]\nname = "d"\nurls = "json://u:{MARKERS["password"]}@h/x"\n'
            "topics = []\n",
            source,
        )
    assert "[[subscribers]] #1 urls" in str(err.value) and not _leaks(str(err.value))


def test_invalid_url_problems_name_a_label_not_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL that turns invalid after the config was loaded (the variable behind `env:` was
    changed): the delivery problem names the destination's label, never the URL."""
    monkeypatch.delenv("SW_OPS_URL", raising=False)
    subscriber = SubscriberConfig(name="ops", urls=("env:SW_OPS_URL",), topics=())
    monkeypatch.setenv("SW_OPS_URL", f"jsno://u:{MARKERS['password']}@h/{MARKERS['path']}")
    targets, problems = destinations(subscriber)
    assert targets == []
    (problem,) = problems
    assert problem.startswith("destination #1: not a valid Apprise URL (ops/env:SW_OPS_URL")
    assert not _leaks(problem)


def test_the_digest_migration_scrubs_destinations_stored_by_older_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Older versions stored Apprise's privacy URL, which keeps +header and path tokens."""
    import duckdb

    from spacewatch.warehouse import migrate as migrate_mod

    everything = migrate_mod.load_migrations()
    ours = next(m for m in everything if m.name.endswith("digest_deliveries"))
    before = tuple(m for m in everything if m.version < ours.version)
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    try:
        monkeypatch.setattr(migrate_mod, "load_migrations", lambda: before)
        migrate_mod.migrate(con, str(path))
        old = f"json://u:****@h:1/p/{MARKERS['path']}?%2BAuthorization=Bearer%20{MARKERS['header']}"
        con.execute(
            "INSERT INTO alert_deliveries VALUES (1, ?, 'failed', 1, ?, NULL), (2, ?, 'sent', 1, NULL, now())",
            [old, f"{old}: refused", old.replace("/p/", "/q/")],
        )
        con.execute(
            "INSERT INTO health_notices VALUES ('k', 'ops', ?, 'feed_dead', 's', now(), NULL, 0, ?, NULL)",
            [old, f"{old}: refused"],
        )
        monkeypatch.setattr(migrate_mod, "load_migrations", lambda: everything)
        assert migrate_mod.migrate(con, str(path)) == [m.version for m in everything if m not in before]
        rows = con.execute("SELECT * FROM alert_deliveries ORDER BY alert_id").fetchall()
        rows += con.execute("SELECT * FROM health_notices").fetchall()
    finally:
        con.close()
    assert not _leaks(repr(rows)), rows
    labels = [rows[0][1], rows[1][1]]
    assert all(label.startswith("json#") for label in labels) and labels[0] == rows[2][2]
    assert rows[0][4] == "(URL removed) refused"
