"""Deployments on a real `prefect server start`: deploy/prefect.yaml, a process worker, and
`spacewatch serve` executing runs against the bundled sample over loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import yaml
from receivers import free_port

from helpers import query, sample_feeds, write_config
from spacewatch.config import ScheduleConfig, load_config
from spacewatch.flows.prefect_server import local_prefect_server
from spacewatch.loopback import LoopbackServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FINAL = {"COMPLETED", "CANCELLED", "FAILED", "CRASHED"}


def prefect_env(home: Path, api_url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "PREFECT_LOGGING_LEVEL": "INFO",
    }
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def api(url: str, path: str, body: dict | None = None, method: str = "POST") -> object:
    # The server's SQLite answers 503 when it is briefly locked under load; it says retry.
    for _ in range(10):
        response = httpx.request(method, f"{url}{path}", json=body, timeout=30)
        if response.status_code != 503:
            break
        time.sleep(1)
    response.raise_for_status()
    return response.json() if response.content else None


def deployments(url: str) -> dict[str, dict]:
    found = api(url, "/deployments/filter", {})
    return {d["name"]: d for d in found}  # type: ignore[union-attr]


def wait_final(url: str, run_ids: list[str], timeout_s: float = 240) -> dict[str, dict]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = {rid: api(url, f"/flow_runs/{rid}", method="GET") for rid in run_ids}
        if all(r["state_type"] in FINAL for r in runs.values()):  # type: ignore[index]
            return runs  # type: ignore[return-value]
        time.sleep(1)
    raise AssertionError(f"runs not finished: { {k: v['state_type'] for k, v in runs.items()} }")  # type: ignore[index]


@pytest.fixture()
def sample_config(tmp_path: Path, sample_server: LoopbackServer) -> Path:
    return write_config(tmp_path, sample_feeds(sample_server.base_url))


@pytest.fixture()
def prefect_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    home = tmp_path / "prefect-home"
    with local_prefect_server(
        port=free_port(), log_path=tmp_path / "server.log", env={"PREFECT_HOME": str(home)}
    ) as url:
        yield url, home


def _yaml_schedule(entry: dict) -> tuple:
    if "interval" in entry:
        return ("interval", float(entry["interval"]), entry["timezone"])
    return ("cron", entry["cron"], entry["timezone"])


def _built_schedule(schedule: object) -> tuple:
    if hasattr(schedule, "interval"):
        return ("interval", schedule.interval.total_seconds(), schedule.timezone)  # type: ignore[attr-defined]
    return ("cron", schedule.cron, schedule.timezone)  # type: ignore[attr-defined]


def test_prefect_yaml_matches_what_serve_builds() -> None:
    from prefect.events import DeploymentEventTrigger

    from spacewatch.flows.deployments import build_deployments

    spec = yaml.safe_load((ROOT / "deploy" / "prefect.yaml").read_text())
    in_yaml = {d["name"]: d for d in spec["deployments"]}
    defaults = ScheduleConfig()
    # The operators' example file states the same defaults.
    assert load_config(ROOT / "deploy" / "spacewatch.example.toml").schedule == defaults
    built = {d.name: d for d in build_deployments(Path("/etc/spacewatch/s.toml"), defaults)}
    assert set(built) == set(in_yaml) == {"pipeline", "delivery", "digest", "maintenance"}
    for name, d in built.items():
        y = in_yaml[name]
        # Module entrypoints: "pkg.module:func" in the file, "pkg.module.func" when built.
        assert d.entrypoint == y["entrypoint"].replace(":", "."), name
        module, func = y["entrypoint"].split(":")
        __import__(module)
        assert callable(getattr(sys.modules[module], func))
        assert [_built_schedule(s.schedule) for s in d.schedules] == [
            _yaml_schedule(s) for s in y["schedules"]
        ], name
        assert d.parameters == y["parameters"] | {"config_path": "/etc/spacewatch/s.toml"}, name
        assert y["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
        assert d.concurrency_limit == 1 and d.concurrency_options.collision_strategy.value == "CANCEL_NEW"  # type: ignore[union-attr]
        assert d.tags == y["tags"] and d.description == y["description"], name
        triggers = [
            DeploymentEventTrigger(**{k: v for k, v in t.items() if k != "type"}).model_dump()
            for t in y.get("triggers", [])
        ]
        assert [t.model_dump() for t in d.triggers] == triggers, name
    # Delivery is started by the pipeline's match events, and the pipeline leaves it the sending.
    (trigger,) = built["delivery"].triggers
    assert trigger.expect == {"spacewatch.topic.matched"} and trigger.threshold == 1
    assert built["pipeline"].parameters["deliver"] is False
    assert _built_schedule(built["delivery"].schedules[0].schedule)[1] == defaults.delivery_every_min * 60


def test_deploy_then_a_worker_runs_the_pipeline_once_and_cancels_the_overlap(
    tmp_path: Path, sample_config: Path, prefect_server: tuple[str, Path]
) -> None:
    url, home = prefect_server
    env = prefect_env(home, url) | {"SPACEWATCH_CONFIG": str(sample_config), "SPACEWATCH_WORK_POOL": "spacewatch-test"}
    started = time.monotonic()

    def prefect(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(BIN / "prefect"), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    prefect("work-pool", "create", "spacewatch-test", "--type", "process")
    prefect("--no-prompt", "deploy", "--all", "--prefect-file", "deploy/prefect.yaml")

    found = deployments(url)
    assert set(found) == {"pipeline", "delivery", "digest", "maintenance"}
    pipe = found["pipeline"]
    assert [s["schedule"].get("interval") for s in pipe["schedules"]] == [900.0]
    assert [s["schedule"]["cron"] for s in found["digest"]["schedules"]] == ["5 * * * *"]
    assert [s["schedule"]["cron"] for s in found["maintenance"]["schedules"]] == ["30 3 * * *"]
    assert pipe["global_concurrency_limit"]["limit"] == 1
    assert pipe["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
    assert pipe["parameters"]["config_path"] == str(sample_config)
    assert pipe["work_pool_name"] == "spacewatch-test"
    assert pipe["parameters"]["deliver"] is False
    # The delivery deployment's trigger became an automation on the server.
    automations = api(url, "/automations/filter", {})
    runs_delivery = [
        a for a in automations  # type: ignore[union-attr]
        if any(act.get("deployment_id") == found["delivery"]["id"] for act in a["actions"])
    ]
    assert [a["trigger"]["expect"] for a in runs_delivery] == [["spacewatch.topic.matched"]]

    # Schedules off, so only the two manual runs below reach the worker.
    for d in found.values():
        api(url, f"/deployments/{d['id']}", {"paused": True}, method="PATCH")
    for stale in api(url, "/flow_runs/filter", {}):  # type: ignore[union-attr]
        api(url, f"/flow_runs/{stale['id']}", method="DELETE")
    run_ids = [api(url, f"/deployments/{pipe['id']}/create_flow_run", {})["id"] for _ in range(2)]  # type: ignore[index]

    worker = subprocess.Popen(
        [str(BIN / "prefect"), "worker", "start", "--pool", "spacewatch-test"],
        env=env, cwd=tmp_path, stdout=(tmp_path / "worker.log").open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        runs = wait_final(url, run_ids)
        elapsed = time.monotonic() - started
        states = sorted(r["state_type"] for r in runs.values())
        assert states == ["CANCELLED", "COMPLETED"], (tmp_path / "worker.log").read_text()[-3000:]
        completed = next(r for r in runs.values() if r["state_type"] == "COMPLETED")
        # What the operator sees in the UI: the run's logs. The flow-run process ships its last
        # lines after its final state, so the worker (and that process) must live until then.
        for _ in range(60):
            logs = api(url, "/logs/filter", {"logs": {"flow_run_id": {"any_": [completed["id"]]}}})
            messages = [log["message"] for log in logs]  # type: ignore[union-attr]
            if any(m.startswith("articles: ") for m in messages):
                break
            time.sleep(1)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)

    wh = load_config(sample_config).warehouse_path
    assert query(wh, "SELECT status, count(*) FROM runs GROUP BY 1") == [("completed", 1)]
    (articles,) = query(wh, "SELECT count(*) FROM articles")[0]
    assert articles >= 15
    assert query(wh, "SELECT flow_run_id FROM runs") == [(completed["id"],)]
    assert any(m.startswith(f"articles: {articles} new") for m in messages), messages
    # ... and the run's summary artifact.
    artifacts = api(url, "/artifacts/filter", {"artifacts": {"key": {"any_": ["spacewatch-run-summary"]}}})
    assert [a["flow_run_id"] for a in artifacts] == [completed["id"]]  # type: ignore[union-attr]
    assert f"articles: {articles} new" in artifacts[0]["data"]  # type: ignore[index]
    print(f"deploy + worker path: {elapsed:.1f} s")


def test_serve_starts_a_server_runs_a_triggered_pipeline_and_stops_on_sigint(
    tmp_path: Path, sample_server: LoopbackServer
) -> None:
    """`spacewatch serve --port N` as an operator runs it, with no logging settings of their
    own: the UI is told the API is on port N, serve says when each flow runs next in the
    configured zone, and the run's summary and failures reach the API as log lines."""
    gone = "http://127.0.0.1:9/gone.xml"  # nothing listens on port 9: a failing feed
    config = write_config(
        tmp_path,
        [*sample_feeds(sample_server.base_url), (gone, "gone")],
        schedule='timezone = "Europe/Paris"',
    )
    from receivers import WebhookSink

    hook = WebhookSink().__enter__()
    config.write_text(
        config.read_text()
        + '\n[alerts]\nmin_interval_s = 0\nmax_age_h = 0\n[[topics]]\nid = "lunar"\n'
        + 'name = "Lunar station"\nthemes = ["moon_base_ilrs"]\n[[subscribers]]\nname = "desk"\n'
        + f'urls = ["{hook.url()}"]\ntopics = ["lunar"]\n',
        encoding="utf-8",
    )
    port = free_port()
    env = prefect_env(tmp_path / "prefect-home", None)
    env.pop("PREFECT_API_URL", None)
    env.pop("PREFECT_LOGGING_LEVEL", None)  # the terminal's default: quiet
    env["PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS"] = "2"
    started = time.monotonic()
    serve = subprocess.Popen(
        [str(BIN / "spacewatch"), "serve", "--config", str(config), "--port", str(port)],
        env=env, cwd=tmp_path, stdout=(tmp_path / "serve.log").open("w"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/api"
    wh = load_config(config).warehouse_path
    try:
        deadline = time.monotonic() + 240
        found: dict[str, dict] = {}
        while time.monotonic() < deadline and len(found) < 4:
            time.sleep(1)
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                found = deployments(url)
            except httpx.HTTPError:
                continue
        assert set(found) == {"pipeline", "delivery", "digest", "maintenance"}
        pipe = found["pipeline"]
        assert [s["schedule"]["interval"] for s in pipe["schedules"]] == [900.0]
        assert pipe["global_concurrency_limit"]["limit"] == 1
        assert pipe["parameters"]["config_path"] == str(config.resolve())

        # The UI asks the server where the API is: the port serve was given.
        ui = httpx.get(f"http://127.0.0.1:{port}/ui-settings", timeout=10).json()
        assert ui["api_url"] == url
        assert pipe["parameters"]["deliver"] is False

        (run_id,) = [api(url, f"/deployments/{pipe['id']}/create_flow_run", {})["id"]]  # type: ignore[index]
        runs = wait_final(url, [run_id])
        assert runs[run_id]["state_type"] == "COMPLETED", (tmp_path / "serve.log").read_text()[-3000:]
        elapsed = time.monotonic() - started

        # What the operator sees in the UI: the run's log lines, read back through the API.
        messages: list[str] = []
        for _ in range(60):
            logs = api(url, "/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}})
            messages = [log["message"] for log in logs]  # type: ignore[union-attr]
            if any(m.startswith("time: ") for m in messages):
                break
            time.sleep(1)
        # The runs the server's scheduler created for each deployment, in any state: the one
        # serve announced may already have run by now (the test takes minutes under load).
        scheduled: dict[str, list[str]] = {}
        for _ in range(30):
            for name, d in found.items():
                body = {
                    "deployments": {"id": {"any_": [d["id"]]}},
                    "sort": "EXPECTED_START_TIME_ASC",
                    "limit": 50,
                }
                created = [r for r in api(url, "/flow_runs/filter", body) if r["auto_scheduled"]]  # type: ignore[union-attr, index]
                if created:
                    scheduled[name] = [r["expected_start_time"] for r in created]
            if len(scheduled) == len(found):
                break
            time.sleep(1)
        # The run's match events trigger the delivery deployment, which sends every alert.
        (alerts,) = query(wh, "SELECT count(*) FROM alerts", wait_s=60)[0]
        assert alerts > 0
        deadline = time.monotonic() + 180
        while len(hook.posts) < alerts and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(hook.posts) == alerts, (tmp_path / "serve.log").read_text()[-3000:]
        delivery = api(url, "/flow_runs/filter", {"flow_runs": {"deployment_id": {"any_": [found["delivery"]["id"]]}}})
        triggered = [r for r in delivery if r["idempotency_key"] and not r["auto_scheduled"]]  # type: ignore[union-attr]
        # One delivery for the run's matches: the trigger ignores the rest for a minute.
        assert len(triggered) == 1, [(r["auto_scheduled"], r["idempotency_key"]) for r in delivery]  # type: ignore[union-attr]
        (committed,) = query(wh, "SELECT epoch(finished_at) FROM runs", wait_s=60)[0]
        delays = [t - committed for t in hook.times]
    finally:
        serve.send_signal(signal.SIGINT)
        code = serve.wait(timeout=120)
        hook.__exit__(None, None, None)
    log = (tmp_path / "serve.log").read_text()
    assert code == 0, log[-3000:]
    assert "Stopped." in log
    assert query(wh, "SELECT status FROM runs", wait_s=60) == [("completed",)]
    assert {r[0] for r in query(wh, "SELECT status FROM alerts", wait_s=60)} == {"sent"}
    with pytest.raises(httpx.HTTPError):  # the server went with it
        httpx.get(f"{url}/health", timeout=2)

    assert any(m.startswith("feeds: 5 polled") and "1 failed" in m for m in messages), messages
    assert any(m.startswith("articles: ") for m in messages), messages
    assert any(m.startswith(f"feed failed: {gone}: ") for m in messages), messages
    missing = f"page failed: {sample_server.base_url}/pages/lunar-ledger/withdrawn-story.html: "
    assert any(m.startswith(missing) and "404" in m for m in messages), messages

    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    assert set(scheduled) == {"pipeline", "delivery", "digest", "maintenance"}, scheduled
    shown = " ".join(log.split())
    for name, times in scheduled.items():
        lines = [
            f"{name} next run {datetime.fromisoformat(when).astimezone(paris):%Y-%m-%d %H:%M %Z} (Europe/Paris)"
            for when in times
        ]
        # serve announced one of the runs the scheduler created (the earliest, at its start).
        assert any(line in shown for line in lines), (lines, log[:3000])
    print(f"serve path: {elapsed:.1f} s")
    print(
        f"commit -> alert arrival through the triggered delivery: first {min(delays):.1f} s, "
        f"last {max(delays):.1f} s ({alerts} alerts, {datetime.now():%Y-%m-%d})"
    )
