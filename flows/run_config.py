"""Which configuration a deployed run reads: parameter, environment, then a Prefect Variable.

Operators change the file a deployment uses without redeploying: set the Prefect Variable
`spacewatch_config` (UI or `prefect variable set spacewatch_config /etc/spacewatch.toml`).
"""

from __future__ import annotations

import os
from pathlib import Path

from spacewatch.config import CONFIG_ENV, DEFAULT_CONFIG, Config, load_config

CONFIG_VARIABLE = "spacewatch_config"


def _from_variable() -> str | None:
    from prefect.variables import Variable

    try:
        value = Variable.get(CONFIG_VARIABLE, default=None)
    except Exception:  # no API reachable: then the variable simply isn't there
        return None
    return str(value) if value else None


def run_config_path(config_path: str | None) -> Path:
    """The parameter, else $SPACEWATCH_CONFIG, else the Variable, else ./spacewatch.toml."""
    chosen = config_path or os.environ.get(CONFIG_ENV) or _from_variable() or DEFAULT_CONFIG
    return Path(chosen)


def load_run_config(config_path: str | None) -> Config:
    return load_config(run_config_path(config_path))
