"""The one place where a path or a name is put into SQL text.

DuckDB cannot take a parameter for ATTACH, LOAD, COPY ... TO or an identifier, so those
statements are built as text. Every caller quotes through these two functions: a folder named
`o'brien` or a database named `my"db` then works, and nothing a path contains can end the
string and start a statement of its own.
"""

from __future__ import annotations

from pathlib import Path


def sql_string(value: str | Path) -> str:
    """A SQL string literal: single quotes, with embedded quotes doubled."""
    text = str(value)
    if "\x00" in text:
        raise ValueError(f"{text!r}: a NUL byte cannot be put into SQL")
    return "'" + text.replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    """A SQL identifier (table, view, database): double quotes, embedded ones doubled."""
    if "\x00" in name:
        raise ValueError(f"{name!r}: a NUL byte cannot be put into SQL")
    return '"' + name.replace('"', '""') + '"'
