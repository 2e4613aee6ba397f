"""End-to-end alert latency in the demo setting: `spacewatch run` started in a fresh process
(Prefect's embedded server included) until each alert email arrives at a real SMTP server,
and from the run's commit (`runs.finished_at`; sending starts after it, outside the writer)
until each arrival.

    python bench/alert_latency.py [--interval 0]
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from email import message_from_bytes, policy
from pathlib import Path

import duckdb
from aiosmtpd.controller import Controller

from spacewatch.loopback import SAMPLE_DIR, LoopbackServer, load_sample_routes


class Arrivals:
    def __init__(self) -> None:
        self.times: list[float] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        message_from_bytes(envelope.content, policy=policy.default)  # type: ignore[attr-defined]
        self.times.append(time.time())
        return "250 OK"


def main() -> int:
    # --interval S sets [alerts] min_interval_s (default: the configuration's default, 5.5 s).
    interval = sys.argv[sys.argv.index("--interval") + 1] if "--interval" in sys.argv else None
    arrivals = Arrivals()
    with socket.socket() as probe:  # aiosmtpd's readiness check cannot use port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(arrivals, hostname="127.0.0.1", port=port)
    smtp.start()
    manifest = tomllib.loads((SAMPLE_DIR / "manifest.toml").read_text("utf-8"))
    with tempfile.TemporaryDirectory() as tmp, LoopbackServer() as server:
        for path, route in load_sample_routes(server.base_url).items():
            server.set(path, route)
        feeds = "".join(
            f'[[feeds]]\nurl = "{server.base_url}/feeds/{f["file"]}"\n' for f in manifest["feeds"]
        )
        config = Path(tmp) / "spacewatch.toml"
        config.write_text(
            '[warehouse]\npath = "w.duckdb"\n[fetch]\nallow_private_addresses = true\n'
            + feeds
            # The sample's stories are years old; the freshness window would keep them all.
            + "[alerts]\nmax_age_h = 0\n"
            + (f"min_interval_s = {interval}\n" if interval is not None else "")
            + '[[topics]]\nid = "sfd"\nname = "Space Force deployments"\n'
            'themes = ["space_force_deployment"]\n'
            '[[topics]]\nid = "lunar"\nname = "Lunar station"\nthemes = ["moon_base_ilrs"]\n'
            f'[[subscribers]]\nname = "desk"\nurls = ["mailto://127.0.0.1:{port}'
            '?from=a@example.com&to=desk@example.com"]\ntopics = ["sfd", "lunar"]\n',
            encoding="utf-8",
        )
        env_home = Path(tmp) / "prefect"
        started = time.time()
        subprocess.run(
            [str(Path(sys.executable).with_name("spacewatch")), "run", "--config", str(config)],
            check=True,
            env={
                "PREFECT_HOME": str(env_home),
                "PATH": "/usr/bin:/bin",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            },
        )
        finished = time.time()
        con = duckdb.connect(str(Path(tmp) / "w.duckdb"), read_only=True)
        committed = con.execute("SELECT max(epoch(finished_at)) FROM runs").fetchone()[0]
        con.close()
    smtp.stop()
    latencies = [t - started for t in arrivals.times]
    print(f"alerts received: {len(latencies)}")
    if latencies:
        print(
            f"latency from `spacewatch run` start: first {min(latencies):.1f} s, "
            f"median {statistics.median(latencies):.1f} s, last {max(latencies):.1f} s; "
            f"whole command {finished - started:.1f} s "
            "(fresh Prefect home: the embedded server's start is included)"
        )
        after_commit = [t - committed for t in arrivals.times]
        print(
            f"latency from the run's commit: first {min(after_commit):.1f} s, "
            f"median {statistics.median(after_commit):.1f} s, last {max(after_commit):.1f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
