"""Commands that run no flow pay only for what they use: `query`, `search`, `status`, `feeds`
and `tag` never import Prefect, Apprise or matplotlib (docs/architecture.md). Each runs for
real, in its own process, on a warehouse the pipeline filled."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import ingest_sample

pytestmark = pytest.mark.usefixtures("prefect_harness")

HEAVY = ("prefect", "apprise", "matplotlib")
# Runs the real entry point, then writes which heavy packages the process had loaded.
PROBE = """
import json, sys
from spacewatch.cli.main import main
out, sys.argv = sys.argv[1], ["spacewatch", *sys.argv[2:]]
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code or 0
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(HEAVY))
open(out, "w").write(json.dumps({"code": code, "heavy": heavy}))
""".replace("HEAVY", repr(HEAVY))


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield ingest_sample(tmp_path_factory.mktemp("cli-imports"))


@pytest.mark.parametrize(
    "args",
    [
        ["query", "SELECT count(*) AS n FROM v_articles"],
        ["search", "lunar", "--format", "json"],
        ["status", "--format", "json"],
        ["feeds"],
        ["tag", "-"],
    ],
    ids=lambda args: args[0],
)
def test_a_command_without_a_flow_imports_no_prefect_apprise_or_matplotlib(
    ingested: Path, tmp_path: Path, args: list[str]
) -> None:
    record = tmp_path / "probe.json"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(record), *args, "--config", str(ingested)],
        input="NASA and Roscosmos discussed the lunar gateway.",
        capture_output=True,
        text=True,
        timeout=120,
    )
    probe = json.loads(record.read_text())
    assert probe["code"] in ((0, 4) if args[0] == "status" else (0,)), result.stderr
    assert result.stdout.strip(), result.stderr  # it did its work
    assert probe["heavy"] == [], f"spacewatch {args[0]} imported {probe['heavy']}"


def test_the_probe_sees_a_command_that_does_import_prefect(ingested: Path, tmp_path: Path) -> None:
    """The check can fail: `digest` runs a flow, so Prefect shows up in its process."""
    record = tmp_path / "probe.json"
    subprocess.run(
        [sys.executable, "-c", PROBE, str(record), "digest", "--config", str(ingested)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "prefect" in json.loads(record.read_text())["heavy"]
