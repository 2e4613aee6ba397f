"""Property-based tests of the config loader (issue 10.10): whatever an operator writes, the
loader answers with a Config or one ConfigError line that names the file and the key, and never
shows a destination URL or a value that came from the environment."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacewatch.config import Config, ConfigError, parse_config

EXAMPLE = Path(__file__).resolve().parents[1] / "deploy" / "spacewatch.example.toml"
SOURCE = Path("/etc/spacewatch/spacewatch.toml")
SECRET = "Zq8SecretTok3n"

# TOML basic strings take any text but raw control characters and lone surrogates.
_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x7f"), max_size=40
)
_SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    _TEXT,
)
_VALUES = st.one_of(_SCALARS, st.lists(_SCALARS, max_size=3))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(type(value))


def to_toml(doc: dict[str, Any]) -> str:
    """Enough of a TOML writer for a config: tables and arrays of tables of plain values."""
    lines: list[str] = []
    for name, body in doc.items():
        tables = body if isinstance(body, list) else [body]
        for table in tables:
            lines.append(f"[[{name}]]" if isinstance(body, list) else f"[{name}]")
            lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def _keys() -> list[tuple[str, str]]:
    out = []
    for name, body in example().items():
        table = body[0] if isinstance(body, list) else body
        out += [(name, key) for key in table]
    return out


KEYS = _keys()


def _one_line(exc: ConfigError) -> str:
    message = str(exc)
    assert "\n" not in message, message
    assert message.startswith(f"{SOURCE}: "), message
    return message


def test_the_example_round_trips_through_the_writer() -> None:
    """The writer below is what the properties rely on: it must say what the example says."""
    assert isinstance(parse_config(to_toml(example()), SOURCE), Config)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(KEYS), value=_VALUES)
def test_any_value_for_any_key_loads_or_fails_in_one_line_naming_the_key(
    key: tuple[str, str], value: Any
) -> None:
    section, name = key
    doc = example()
    table = doc[section][0] if isinstance(doc[section], list) else doc[section]
    table[name] = value
    try:
        parse_config(to_toml(doc), SOURCE)
    except ConfigError as exc:
        message = _one_line(exc)
        assert name in message or section in message, message


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_loads_or_fails_in_one_line(text: str) -> None:
    try:
        parse_config(text, SOURCE)
    except ConfigError as exc:
        _one_line(exc)


# The variable is set anew for every example, so sharing monkeypatch across them is safe.
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    scheme=st.sampled_from(["json", "jsno", "mailto", "malto", "slack", "form", ""]),
    tail=st.sampled_from(["@h/", "@127.0.0.1:9/x?", "/", "?+Authorization=Bearer%20", "?-apikey="]),
    via_env=st.booleans(),
)
def test_a_bad_destination_never_shows_its_secret(
    scheme: str, tail: str, via_env: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"{scheme}://u:{SECRET}{tail}{SECRET}" if scheme else f"{SECRET}{tail}{SECRET}"
    doc = example()
    entry = url
    if via_env:
        monkeypatch.setenv("SW_PROP_URL", url)
        entry = "${SW_PROP_URL}"
    doc["subscribers"] = [{"name": "desk", "urls": [entry], "topics": []}]
    doc.setdefault("health", {})["notify"] = ["desk"]
    try:
        parse_config(to_toml(doc), SOURCE)
    except ConfigError as exc:
        message = _one_line(exc)
        assert SECRET not in message, message
        assert "desk" in message or "subscribers" in message, message
