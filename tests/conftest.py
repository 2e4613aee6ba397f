"""Shared fixtures. Prefect settings are fixed here, before anything imports Prefect."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

# A throw-away Prefect home, no telemetry, and room for a slow first start of the embedded
# server on a fresh machine (its default of 20 s is not always enough).
_PREFECT_HOME = tempfile.mkdtemp(prefix="spacewatch-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("SPACEWATCH_CONFIG", None)

from spacewatch.loopback import LoopbackServer, load_sample_routes  # noqa: E402


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test server for the whole session (starting one costs 5-30 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture()
def sample_server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        for path, route in load_sample_routes(server.base_url).items():
            server.set(path, route)
        yield server
