"""A real Prefect server on loopback, for `spacewatch serve` when no PREFECT_API_URL is set.

Prefect refuses schedules on its embedded (ephemeral) server, so serving needs this one. It
keeps its history in PREFECT_HOME (by default ~/.prefect), so the UI shows past runs after a
restart.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


class ServerError(Exception):
    """The local Prefect server could not be started."""


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _prefect_command() -> list[str]:
    script = Path(sys.executable).with_name("prefect")
    return [str(script)] if script.exists() else [sys.executable, "-m", "prefect"]


def wait_for_api(api_url: str, timeout_s: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServerError(f"the Prefect server exited with code {process.returncode}")
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise ServerError(f"the Prefect server at {api_url} did not answer within {timeout_s:.0f} s")


@contextmanager
def local_prefect_server(
    port: int = 4200,
    host: str = "127.0.0.1",
    log_path: Path | None = None,
    timeout_s: float = 180.0,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """Start `prefect server start` on host:port, yield its API URL, stop it on exit."""
    if not _port_free(host, port):
        raise ServerError(
            f"port {port} on {host} is in use; if a Prefect server runs there, set "
            f"PREFECT_API_URL=http://{host}:{port}/api, otherwise pass --port"
        )
    api_url = f"http://{host}:{port}/api"
    server_env = {**os.environ, **(env or {})}
    server_env.pop("PREFECT_API_URL", None)
    server_env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The UI asks the server where its API is: without these it answers with the default
    # port (4200), whatever --port says, and the UI of a server on another port cannot load.
    # The server's own log file keeps its default level, whatever the terminal shows.
    server_env.pop("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", None)
    server_env["PREFECT_SERVER_API_HOST"] = host
    server_env["PREFECT_SERVER_API_PORT"] = str(port)
    if not server_env.get("PREFECT_UI_API_URL") and not server_env.get("PREFECT_SERVER_UI_API_URL"):
        server_env["PREFECT_UI_API_URL"] = api_url
    log = log_path.open("ab") if log_path else subprocess.DEVNULL
    command = [*_prefect_command(), "server", "start", "--host", host, "--port", str(port)]
    # Its own session, so Ctrl-C in the terminal reaches us first and we stop it in order.
    process = subprocess.Popen(
        command, env=server_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        try:
            wait_for_api(api_url, timeout_s, process)
        except ServerError as exc:
            where = f"; its log is {log_path}" if log_path else ""
            raise ServerError(f"{exc}{where}") from None
        yield api_url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if log_path:
            log.close()  # type: ignore[union-attr]
