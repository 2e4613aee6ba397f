"""Every setting, declared once with its default and validator; read from one TOML file.

`deploy/spacewatch.example.toml` lists the same keys with their defaults for operators.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_CONFIG = "spacewatch.toml"
CONFIG_ENV = "SPACEWATCH_CONFIG"
USER_AGENT = "Spacewatch/0.1 (space-policy news monitor; polite poller: conditional GET, backoff)"


class ConfigError(Exception):
    """A configuration problem, phrased as one line that names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


def _check_http_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {value!r}")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise ValueError(f"bad port in URL {value!r}") from exc
    return value


class WarehouseConfig(_Strict):
    path: Path = Path("spacewatch.duckdb")
    # Minutes between two publications of the analysts' snapshot. 0: after every run. A large
    # warehouse costs minutes to copy and index (bench/README.md), so it may publish hourly.
    snapshot_every_min: Annotated[float, Field(ge=0, le=7 * 24 * 60)] = 0.0


class FeedConfig(_Strict):
    url: str
    name: str | None = None

    _url = field_validator("url")(_check_http_url)


class FetchConfig(_Strict):
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    connect_timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    max_bytes: Annotated[int, Field(gt=0)] = 15 * 1024 * 1024
    max_redirects: Annotated[int, Field(ge=0, le=5)] = 5
    concurrency: Annotated[int, Field(ge=1, le=512)] = 16
    per_host_concurrency: Annotated[int, Field(ge=1, le=64)] = 2
    user_agent: Annotated[str, Field(min_length=3)] = USER_AGENT
    allow_private_addresses: bool = False
    backoff_base_s: Annotated[float, Field(ge=0)] = 900.0
    backoff_max_s: Annotated[float, Field(ge=0)] = 24 * 3600.0
    # A permanent redirect must be seen this many polls in a row before the stored URL moves,
    # so one misconfigured response cannot hijack a feed.
    redirect_confirmations: Annotated[int, Field(ge=1, le=20)] = 2


class ExtractConfig(_Strict):
    workers: Annotated[int, Field(ge=1, le=64)] = max(1, os.cpu_count() or 1)
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 20.0
    chunk_size: Annotated[int, Field(ge=1, le=100_000)] = 500
    # Below this many words a page is treated as having yielded nothing and the feed's own
    # content is used instead.
    min_words: Annotated[int, Field(ge=0)] = 25


class DedupeConfig(_Strict):
    # Estimated Jaccard similarity of word shingles above which two texts are one story.
    similarity: Annotated[float, Field(gt=0, le=1)] = 0.5
    min_words: Annotated[int, Field(ge=1)] = 40


class TaggingConfig(_Strict):
    # Defaults: the registries and seed corpus bundled in seeds/. Relative paths are relative
    # to the configuration file.
    actors: Path | None = None
    themes: Path | None = None
    corpus: Path | None = None
    # The learned relevance and theme model (seeds/model.py): a file written by
    # `python -m spacewatch.seeds.train_model`, or "none" to tag with the registries alone.
    model: str | None = None
    # Emerging actors are looked for in the relevant articles of this many recent days.
    emerging_window_days: Annotated[int, Field(ge=1, le=3650)] = 30


_TOPIC_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class TopicConfig(_Strict):
    """A watched topic. `themes` alone fires on every article that asserts any of them."""

    id: str
    name: str
    themes: tuple[str, ...] = ()  # any of these themes
    all_themes: tuple[str, ...] = ()  # every one of these
    actors: tuple[str, ...] = ()  # any of these actors
    all_actors: tuple[str, ...] = ()
    none_themes: tuple[str, ...] = ()  # none of these
    none_actors: tuple[str, ...] = ()
    keywords: str | None = None  # boolean expression: "lunar AND (base OR station) AND NOT game"
    min_relevance: Annotated[float, Field(ge=0, le=1)] = 0.0
    min_theme_score: Annotated[float, Field(ge=0, le=1)] = 0.0
    relevant_only: bool = True
    severity: Literal["info", "warning", "critical"] = "info"

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _TOPIC_ID.match(value):
            raise ValueError(f"topic id {value!r} must be lower-case letters, digits and _")
        return value


class SubscriberConfig(_Strict):
    name: str
    # Apprise URLs; "env:NAME" takes the URL from an environment variable, "secret:NAME" from
    # a Prefect Secret block and "config:/path/apprise.yml" from an Apprise configuration
    # file, so tokens stay out of here.
    urls: tuple[str, ...]
    topics: tuple[str, ...]
    mode: Literal["immediate", "digest"] = "immediate"
    digest_hour_utc: Annotated[int, Field(ge=0, le=23)] = 7
    max_per_hour: Annotated[int, Field(ge=1)] | None = None  # the excess goes to the digest
    quiet_hours_utc: str | None = None  # "22-07": immediate alerts wait until it ends

    @field_validator("quiet_hours_utc")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"([01]?\d|2[0-3])-([01]?\d|2[0-3])", value):
            raise ValueError(f"quiet hours {value!r} must look like 22-07 (UTC hours)")
        return value


class AlertsConfig(_Strict):
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 20.0
    # Seconds between two messages to the same destination. Apprise's own default (5.5 s)
    # keeps chat services from rate-limiting us; a local mail relay can take 0.
    min_interval_s: Annotated[float, Field(ge=0, le=600)] = 5.5
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    retry_base_s: Annotated[float, Field(ge=0)] = 60.0
    retry_max_s: Annotated[float, Field(ge=0)] = 6 * 3600.0


class HealthConfig(_Strict):
    """When the monitor itself is unhealthy (`spacewatch status`, notices to the operator)."""

    # The last 24 h below this share of the median of the previous days is an ingest drop.
    ingest_drop_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.3
    ingest_baseline_days: Annotated[int, Field(ge=1, le=365)] = 14
    # Too little history (a new install) or too small a norm (a quiet source list) is not judged.
    min_baseline_days: Annotated[int, Field(ge=1, le=365)] = 7
    min_baseline_articles: Annotated[float, Field(ge=0)] = 10.0
    feed_dead_after_h: Annotated[float, Field(gt=0)] = 48.0
    alert_failing_after_h: Annotated[float, Field(gt=0)] = 6.0
    run_stale_after_h: Annotated[float, Field(gt=0)] = 24.0
    # Names from [[subscribers]] that receive health notices; empty: nobody is notified.
    notify: tuple[str, ...] = ()
    renotify_after_h: Annotated[float, Field(gt=0)] = 24.0

    @model_validator(mode="after")
    def _days(self) -> HealthConfig:
        if self.min_baseline_days > self.ingest_baseline_days:
            raise ValueError(
                f"min_baseline_days ({self.min_baseline_days}) is more than "
                f"ingest_baseline_days ({self.ingest_baseline_days})"
            )
        return self


_CRON = re.compile(r"^\S+( \S+){4}$")


def _check_cron(value: str) -> str:
    value = " ".join(value.split())
    if not _CRON.match(value):
        raise ValueError(f"{value!r} is not a five-field cron expression like '5 * * * *'")
    return value


class ScheduleConfig(_Strict):
    """When `spacewatch serve` runs each flow; deploy/prefect.yaml carries the same defaults."""

    pipeline_every_min: Annotated[float, Field(gt=0, le=24 * 60)] = 15.0
    # Hourly: each subscriber's digest goes out once a day at its own `digest_hour_utc`.
    digest_cron: str = "5 * * * *"
    maintenance_cron: str = "30 3 * * *"
    timezone: str = "UTC"

    _crons = field_validator("digest_cron", "maintenance_cron")(_check_cron)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like Europe/Paris)"
            ) from None
        return value


class MaintenanceConfig(_Strict):
    backup_dir: Path = Path("backups")
    keep_backups: Annotated[int, Field(ge=1, le=1000)] = 7
    # Raw poll history older than this is deleted; each feed's latest poll is always kept.
    poll_history_days: Annotated[int, Field(ge=1)] = 90


class RunnerConfig(_Strict):
    """Where fetching and extracting run (flows/runners.py); storing stays in the flow."""

    kind: Literal["local", "dask"] = "local"
    # A running Dask scheduler, e.g. "tcp://10.0.0.5:8786"; empty: a temporary local cluster
    # of `dask_workers` processes, started and stopped with each run.
    dask_address: str = ""
    dask_workers: Annotated[int, Field(ge=1, le=256)] = 2

    @field_validator("kind")
    @classmethod
    def _dask_installed(cls, value: str) -> str:
        if value == "dask" and importlib.util.find_spec("prefect_dask") is None:
            raise ValueError("'dask' needs the Dask extra: pip install \"spacewatch[dask]\"")
        return value


class Config(_Strict):
    warehouse: WarehouseConfig = WarehouseConfig()
    feeds: tuple[FeedConfig, ...] = ()
    fetch: FetchConfig = FetchConfig()
    extract: ExtractConfig = ExtractConfig()
    dedupe: DedupeConfig = DedupeConfig()
    tagging: TaggingConfig = TaggingConfig()
    topics: tuple[TopicConfig, ...] = ()
    subscribers: tuple[SubscriberConfig, ...] = ()
    alerts: AlertsConfig = AlertsConfig()
    runner: RunnerConfig = RunnerConfig()
    health: HealthConfig = HealthConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    maintenance: MaintenanceConfig = MaintenanceConfig()

    @field_validator("feeds")
    @classmethod
    def _unique_feeds(cls, feeds: tuple[FeedConfig, ...]) -> tuple[FeedConfig, ...]:
        seen: set[str] = set()
        for feed in feeds:
            if feed.url in seen:
                raise ValueError(f"feed {feed.url} is listed twice")
            seen.add(feed.url)
        return feeds

    @model_validator(mode="after")
    def _references(self) -> Config:
        topic_ids = [t.id for t in self.topics]
        for topic_id in topic_ids:
            if topic_ids.count(topic_id) > 1:
                raise ValueError(f"topic {topic_id!r} is defined twice")
        names = [s.name for s in self.subscribers]
        for subscriber in self.subscribers:
            if names.count(subscriber.name) > 1:
                raise ValueError(f"subscriber {subscriber.name!r} is defined twice")
            unknown = [t for t in subscriber.topics if t not in topic_ids]
            if unknown:
                raise ValueError(
                    f"subscriber {subscriber.name!r} follows unknown topic(s) {unknown}"
                )
        return self

    @model_validator(mode="after")
    def _health_notify(self) -> Config:
        names = [s.name for s in self.subscribers]
        unknown = [n for n in self.health.notify if n not in names]
        if unknown:
            raise ValueError(
                f"[health] notify: unknown subscriber(s) {unknown} (known: {names}); "
                "add them as [[subscribers]] with topics = [] for an operator"
            )
        return self

    # Where the file came from, for messages and for resolving relative paths.
    source: Path | None = None

    def resolve(self, path: Path) -> Path:
        """A path from this file, made absolute relative to the file's folder."""
        path = path.expanduser()
        if not path.is_absolute() and self.source is not None:
            path = self.source.parent / path
        return path

    @property
    def warehouse_path(self) -> Path:
        return self.resolve(self.warehouse.path)

    def tagging_paths(self) -> tuple[str | None, str | None, str | None, str | None]:
        """(actors, themes, corpus, model) as absolute path strings, None for the bundled ones
        ("none" for the model when the registries tag alone)."""
        t = self.tagging
        model = t.model
        if model is not None and model.strip().lower() != "none":
            model = str(self.resolve(Path(model)))
        elif model is not None:
            model = "none"
        paths = tuple(
            str(self.resolve(p)) if p is not None else None for p in (t.actors, t.themes, t.corpus)
        )
        return (*paths, model)  # type: ignore[return-value]


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand_env(value: Any, where: str, file: Path) -> Any:
    """Replace ${NAME} with the environment variable, so secrets stay out of the file."""
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(f"{file}: {where}: environment variable {name} is not set")
            return os.environ[name]

        return _ENV_REF.sub(repl, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, f"{where}.{k}" if where else k, file) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, f"{where}[{i}]", file) for i, v in enumerate(value)]
    return value


def _format_location(loc: tuple[Any, ...]) -> str:
    """('feeds', 2, 'url') -> '[[feeds]] #3 url'; ('fetch', 'timeout_s') -> '[fetch] timeout_s'."""
    if not loc:
        return "(top level)"
    head, rest = str(loc[0]), list(loc[1:])
    if head in ("feeds", "topics", "subscribers") and rest and isinstance(rest[0], int):
        index = rest.pop(0)
        label = f"[[{head}]] #{index + 1}"
    elif rest:
        label = f"[{head}]"
    else:
        return head
    return " ".join([label, *(str(part) for part in rest)]).strip()


def parse_config(text: str, source: Path) -> Config:
    """Validate TOML text; raise ConfigError naming the file and the offending key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    raw = _expand_env(raw, "", source)
    if "source" in raw:
        raise ConfigError(f"{source}: source: unknown key")
    try:
        return Config.model_validate({**raw, "source": source})
    except ValidationError as exc:
        # Unknown keys first: a typo in a key name usually explains the other complaints.
        err = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
        where = _format_location(tuple(err["loc"]))
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        else:
            message = err["msg"].removeprefix("Value error, ")
            shown = repr(err.get("input"))
            if (
                "input" in err
                and not isinstance(err["input"], dict | list)
                and shown not in message
            ):
                message += f" (got {shown})"
        extra = exc.error_count() - 1
        more = f" (and {extra} more problem{'s' if extra > 1 else ''})" if extra else ""
        raise ConfigError(f"{source}: {where}: {message}{more}") from None


def resolve_config_path(path: str | Path | None) -> Path:
    if path is not None:
        return Path(path)
    return Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG))


def load_config(path: str | Path | None = None) -> Config:
    source = resolve_config_path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read configuration: {exc}") from None
    return parse_config(text, source)
