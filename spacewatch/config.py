"""Every setting, declared once with its default and validator; read from one TOML file.

`deploy/spacewatch.example.toml` lists the same keys with their defaults for operators.

Over 500 lines on purpose: every setting is declared in one module (one place to add a key and
its validator), at the root because the CLI and the flows both read it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tomllib
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
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


if TYPE_CHECKING:
    from spacewatch.alerts.health import HealthThresholds
    from spacewatch.extractors.fetch import FetchPolicy
    from spacewatch.extractors.polling import BackoffPolicy


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
    # None: [fetch] allow_private_addresses. The article pages this feed links inherit it.
    allow_private_addresses: bool | None = None

    _url = field_validator("url")(_check_http_url)


class FetchConfig(_Strict):
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    connect_timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    max_bytes: Annotated[int, Field(gt=0)] = 15 * 1024 * 1024
    max_redirects: Annotated[int, Field(ge=0, le=5)] = 5
    concurrency: Annotated[int, Field(ge=1, le=512)] = 16
    per_host_concurrency: Annotated[int, Field(ge=1, le=64)] = 2
    user_agent: Annotated[str, Field(min_length=3)] = USER_AGENT
    # The default for every feed; a [[feeds]] entry may set its own. Cloud metadata and
    # link-local addresses are refused even when this is true.
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
    # Hours in the [alerts] timezone. The *_utc spellings (older configs) are read in UTC;
    # give one of each pair. No digest hour at all: 7.
    digest_hour: Annotated[int, Field(ge=0, le=23)] | None = None
    digest_hour_utc: Annotated[int, Field(ge=0, le=23)] | None = None
    max_per_hour: Annotated[int, Field(ge=1)] | None = None  # the excess goes to the digest
    quiet_hours: str | None = None  # "22-07": immediate alerts wait until it ends
    quiet_hours_utc: str | None = None
    # Self-service, edited by the operator on the subscriber's request (docs/choices.md):
    # until then nothing is sent and alerts wait for the first digest after the pause.
    paused_until: datetime | None = None  # e.g. 2026-12-24T00:00:00Z (with an offset)
    muted_topics: tuple[str, ...] = ()  # topics kept but not sent: status 'muted'

    @field_validator("paused_until", mode="before")
    @classmethod
    def _paused(cls, value: Any) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError(
                f"paused_until {value.isoformat()} needs a UTC offset, e.g. {value.isoformat()}Z"
            )
        return value

    @model_validator(mode="after")
    def _one_spelling(self) -> SubscriberConfig:
        for key in ("digest_hour", "quiet_hours"):
            if getattr(self, key) is not None and getattr(self, f"{key}_utc") is not None:
                raise ValueError(
                    f"subscriber {self.name!r}: give {key} (in the [alerts] timezone) or "
                    f"{key}_utc, not both"
                )
        return self

    @field_validator("quiet_hours_utc", "quiet_hours")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"([01]?\d|2[0-3])-([01]?\d|2[0-3])", value):
            raise ValueError(f"quiet hours {value!r} must look like 22-07 (start-end hours)")
        if value is not None and len({int(h) for h in value.split("-")}) == 1:
            raise ValueError(
                f"quiet hours {value!r} start and end at the same hour, which would hold every "
                "immediate alert forever; leave the key out for no quiet hours"
            )
        return value

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Never echo an entry: it may carry a token.
        if not value:
            raise ValueError("no destination: this subscriber would receive nothing")
        for index, entry in enumerate(value, start=1):
            if not entry.strip():
                raise ValueError(f"destination #{index} is empty")
        return value

    @model_validator(mode="after")
    def _apprise_urls(self) -> SubscriberConfig:
        """Each URL parsed by Apprise now, so a typo stops the run with one line instead of
        failing every delivery later. `secret:` and `config:` entries are read when sending;
        `env:` ones are checked when the variable is set here. The error never shows the URL."""
        from spacewatch.alerts.apprise_check import check_apprise_url

        for index, entry in enumerate(self.urls, start=1):
            if entry.startswith(("secret:", "config:")):
                continue
            url = os.environ.get(entry[4:], "") if entry.startswith("env:") else entry
            reason = check_apprise_url(url.strip()) if url else None
            if reason:
                where = f" ({entry})" if entry.startswith("env:") else ""
                raise ValueError(f"subscriber {self.name!r} urls #{index}{where}: {reason}")
        return self

    @model_validator(mode="after")
    def _muted(self) -> SubscriberConfig:
        unfollowed = [t for t in self.muted_topics if t not in self.topics]
        if unfollowed:
            raise ValueError(
                f"subscriber {self.name!r}: muted_topics names topic(s) {unfollowed} "
                f"it does not follow (topics: {list(self.topics)})"
            )
        return self


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name like Europe/Paris)"
        ) from None
    return value


class AlertsConfig(_Strict):
    # IANA zone of subscribers' quiet_hours and digest_hour; empty: the [schedule] timezone.
    timezone: str = ""
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 20.0
    # Seconds between two messages to the same destination. Apprise's own default (5.5 s)
    # keeps chat services from rate-limiting us; a local mail relay can take 0.
    min_interval_s: Annotated[float, Field(ge=0, le=600)] = 5.5
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    retry_base_s: Annotated[float, Field(ge=0)] = 60.0
    retry_max_s: Annotated[float, Field(ge=0)] = 6 * 3600.0
    # No backlog alerts: a story published (or, undated, first seen) more than this many hours
    # before it matched is stored as 'stale' and not sent. 48 h is twice the longest feed
    # backoff ([fetch] backoff_max_s, 24 h), so a feed that recovers still delivers its
    # catch-up, while a new install's first run does not mail the feeds' archives. 0: no window.
    max_age_h: Annotated[float, Field(ge=0, le=24 * 3650)] = 48.0

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _check_zone(value) if value else value


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
    # Alerts go out on each run's match events; this schedule is the safety net for a lost one.
    delivery_every_min: Annotated[float, Field(gt=0, le=24 * 60)] = 5.0
    # Hourly: each subscriber's digest goes out once a day at its own `digest_hour_utc`.
    digest_cron: str = "5 * * * *"
    maintenance_cron: str = "30 3 * * *"
    timezone: str = "UTC"

    _crons = field_validator("digest_cron", "maintenance_cron")(_check_cron)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _check_zone(value)


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
        for index, sub in enumerate(self.subscribers, start=1):
            if not sub.topics and sub.name not in self.health.notify:
                raise ValueError(
                    f"[[subscribers]] #{index} topics: {sub.name!r} follows no topic and is not "
                    "in [health] notify, so it would receive nothing"
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

    def feed_allows_private(self) -> dict[str, bool]:
        """Configured feed URL -> whether its fetches (feed and linked pages) may reach
        private addresses."""
        default = self.fetch.allow_private_addresses
        return {
            f.url: default if f.allow_private_addresses is None else f.allow_private_addresses
            for f in self.feeds
        }

    @property
    def warehouse_path(self) -> Path:
        return self.resolve(self.warehouse.path)

    @property
    def alerts_zone(self) -> ZoneInfo:
        return ZoneInfo(self.alerts.timezone or self.schedule.timezone)

    def quiet_hours_of(self, subscriber: SubscriberConfig) -> tuple[str | None, ZoneInfo]:
        """A subscriber's quiet hours ("22-07" or None) and the zone they are read in."""
        if subscriber.quiet_hours_utc is not None:
            return subscriber.quiet_hours_utc, ZoneInfo("UTC")
        return subscriber.quiet_hours, self.alerts_zone

    def digest_hour_of(self, subscriber: SubscriberConfig) -> tuple[int, ZoneInfo]:
        """The hour a subscriber's daily digest is due, and the zone it is read in."""
        if subscriber.digest_hour_utc is not None:
            return subscriber.digest_hour_utc, ZoneInfo("UTC")
        hour = subscriber.digest_hour
        return (7 if hour is None else hour), self.alerts_zone

    # --- each stage's settings as the stage takes them: frozen policies, built here once --------
    # (on first use, so a command imports only the stage it runs). A new setting is added to its
    # section above and to its policy here, nowhere else.

    @cached_property
    def fetch_policy(self) -> FetchPolicy:
        from spacewatch.extractors.fetch import FetchPolicy

        f = self.fetch
        return FetchPolicy(
            timeout_s=f.timeout_s,
            connect_timeout_s=f.connect_timeout_s,
            max_bytes=f.max_bytes,
            max_redirects=f.max_redirects,
            concurrency=f.concurrency,
            per_host_concurrency=f.per_host_concurrency,
            user_agent=f.user_agent,
            allow_private_addresses=f.allow_private_addresses,
        )

    @cached_property
    def backoff_policy(self) -> BackoffPolicy:
        from spacewatch.extractors.polling import BackoffPolicy

        f = self.fetch
        return BackoffPolicy(f.backoff_base_s, f.backoff_max_s, f.redirect_confirmations)

    @cached_property
    def health_policy(self) -> HealthThresholds:
        from spacewatch.alerts.health import HealthThresholds

        h = self.health
        return HealthThresholds(
            ingest_drop_ratio=h.ingest_drop_ratio,
            ingest_baseline_days=h.ingest_baseline_days,
            min_baseline_days=h.min_baseline_days,
            min_baseline_articles=h.min_baseline_articles,
            feed_dead_after_h=h.feed_dead_after_h,
            alert_failing_after_h=h.alert_failing_after_h,
            run_stale_after_h=h.run_stale_after_h,
        )

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


def _expand_env(
    value: Any, where: str, file: Path, expanded: dict[tuple, dict[str, str]], loc: tuple = ()
) -> Any:
    """Replace ${NAME} with the environment variable, so secrets stay out of the file.

    `expanded` collects, per location, the names and values put in: error messages must show
    the names, never the values."""
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(f"{file}: {where}: environment variable {name} is not set")
            expanded.setdefault(loc, {})[name] = os.environ[name]
            return os.environ[name]

        return _ENV_REF.sub(repl, value)
    if isinstance(value, dict):
        return {
            k: _expand_env(v, f"{where}.{k}" if where else k, file, expanded, (*loc, k))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            _expand_env(v, f"{where}[{i}]", file, expanded, (*loc, i)) for i, v in enumerate(value)
        ]
    return value


def _hide_values(message: str, names: dict[str, str]) -> str:
    """`message` with each expanded value, however quoted, shown as its ${NAME}."""
    for name, value in sorted(names.items(), key=lambda item: -len(item[1])):
        for form in (value, repr(value)[1:-1], value.strip()):
            if form:
                message = message.replace(form, f"${{{name}}}")
    return message


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
    expanded: dict[tuple, dict[str, str]] = {}
    raw = _expand_env(raw, "", source, expanded)
    every_value = {n: v for names in expanded.values() for n, v in names.items()}
    if "source" in raw:
        raise ConfigError(f"{source}: source: unknown key")
    try:
        return Config.model_validate({**raw, "source": source})
    except ValidationError as exc:
        # Unknown keys first: a typo in a key name usually explains the other complaints.
        err = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
        where = _format_location(tuple(err["loc"]))
        loc = tuple(err["loc"])
        # A value from ${VAR} or a subscriber's URL may be a secret: never shown.
        in_urls = loc[:1] == ("subscribers",) and "urls" in loc
        secret = in_urls or any(loc[: len(k)] == k for k in expanded)
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        else:
            message = err["msg"].removeprefix("Value error, ")
            shown = repr(err.get("input"))
            if (
                "input" in err
                and not isinstance(err["input"], dict | list)
                and shown not in message
                and not secret
            ):
                message += f" (got {shown})"
        message = _hide_values(message, every_value)
        extra = exc.error_count() - 1
        more = f" (and {extra} more problem{'s' if extra > 1 else ''})" if extra else ""
        if not loc and message.startswith("["):
            where, message = message.split(": ", 1)  # a check across sections names its key
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
