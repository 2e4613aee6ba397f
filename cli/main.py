"""The `spacewatch` command's entry point: every command group registered on one app, help
shown as written, and every error printed as one line.

Each command lives in the module of its group (`cli/run.py`, `cli/feeds.py`, ...): it parses
its arguments, calls one function of a stage and prints. Importing this module loads no
Prefect, Apprise or matplotlib; a command imports what it uses when it runs.
"""

from __future__ import annotations

import inspect
import os
import sys

import typer

from spacewatch.cli import alerts, analysts, feeds, maintenance, run, status, tag  # noqa: F401
from spacewatch.cli.app import EXIT_BUSY, EXIT_CONFIG, EXIT_FAILED, Fail, app

__all__ = ["EXIT_BUSY", "EXIT_CONFIG", "EXIT_FAILED", "Fail", "app", "main"]


def plain_help(text: str) -> str:
    """Help text shown as written: Rich would read `[health]` as a style tag and drop it.

    Prose lines of a paragraph are joined (the terminal wraps them); indented blocks, the
    examples, keep their lines.
    """
    from rich.markup import escape

    paragraphs = []
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        lines = paragraph.splitlines()
        if lines and not any(line.startswith(" ") for line in lines):
            paragraph = " ".join(line.strip() for line in lines)
        paragraphs.append(escape(paragraph))
    return "\n\n".join(paragraphs)


def _keep_help_as_written(group: typer.Typer, seen: set[int]) -> None:
    """Apply `plain_help` to every command, group and option help of the app, once each."""
    import typing

    from typer.models import ParameterInfo

    if group.info.help and id(group.info) not in seen:
        seen.add(id(group.info))
        group.info.help = plain_help(group.info.help)
    infos = [*group.registered_commands]
    if group.registered_callback is not None:
        infos.append(group.registered_callback)  # type: ignore[arg-type]
    for info in infos:
        if id(info) in seen or info.callback is None:
            continue
        seen.add(id(info))
        doc = info.help or inspect.getdoc(info.callback)
        if doc:
            info.help = plain_help(doc)
        hints = typing.get_type_hints(info.callback, include_extras=True)
        for hint in hints.values():
            for meta in getattr(hint, "__metadata__", ()):
                if isinstance(meta, ParameterInfo) and meta.help and id(meta) not in seen:
                    seen.add(id(meta))
                    meta.help = plain_help(meta.help)
    for sub in group.registered_groups:
        if sub.help and id(sub) not in seen:
            seen.add(id(sub))
            sub.help = plain_help(sub.help)
        if sub.typer_instance is not None:
            _keep_help_as_written(sub.typer_instance, seen)


# `spacewatch --help` lists the commands in the README's order, whatever the import order.
HELP_ORDER = [
    "run",
    "feeds",
    "status",
    "tag",
    "retag",
    "digest",
    "query",
    "search",
    "sql",
    "report",
    "export",
    "demo",
    "serve",
    "maintenance",
    "restore",
]
app.registered_commands.sort(
    key=lambda info: HELP_ORDER.index(info.name or info.callback.__name__)  # type: ignore[union-attr]
)
_keep_help_as_written(app, set())


def command_flags(argv: list[str]) -> set[str]:
    """Every option the command named in `argv` accepts (sub-commands resolved): error lines
    may promise only these."""
    command = typer.main.get_command(app)
    flags = {opt for param in command.params for opt in param.opts}
    args = [a for a in argv if not a.startswith("-")]
    while args and hasattr(command, "commands"):
        sub = command.commands.get(args.pop(0))  # type: ignore[attr-defined]
        if sub is None:
            continue  # an option's value, e.g. the file after -c
        command = sub
        flags = {opt for param in command.params for opt in param.opts}
    return flags


def error_line(exc: BaseException, flags: set[str]) -> str:
    """The one line every error is printed as; it names only flags the command has."""
    if isinstance(exc, Fail):
        line = f"spacewatch: error: {exc}"
        if exc.code == EXIT_BUSY and "--wait" in flags:
            line += " (or pass --wait SECONDS to wait for it)"
        return line
    hint = "run again with SPACEWATCH_DEBUG=1 for the traceback"
    if "--verbose" in flags:
        hint = "run with --verbose for Prefect's logs, or SPACEWATCH_DEBUG=1 for the traceback"
    return f"spacewatch: error: {type(exc).__name__}: {exc} ({hint})"


def main() -> None:
    flags = command_flags(sys.argv[1:])
    try:
        code = app(standalone_mode=False)  # returns typer.Exit's code instead of exiting
        if isinstance(code, int) and code:
            sys.exit(code)
    except Fail as exc:
        print(error_line(exc, flags), file=sys.stderr)
        sys.exit(exc.code)
    except typer.Abort:
        print("spacewatch: aborted", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print("spacewatch: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # the last resort: one line, not a traceback
        # Usage errors come from the click that typer bundles; recognise them by shape.
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Exit" and hasattr(exc, "exit_code"):
            sys.exit(exc.exit_code)
        if os.environ.get("SPACEWATCH_DEBUG") == "1":
            import traceback

            traceback.print_exc()
        print(error_line(exc, flags), file=sys.stderr)
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
