"""Mutation testing of the core modules listed in mutation/modules.toml, with mutmut.

    python mutation/run.py                 # every listed module (make mutation)
    python mutation/run.py urls dedupe     # some of them
    python mutation/run.py --ci            # the `ci = true` modules, failing under their floor
    python mutation/run.py --again rules   # the last run's survivors against today's tests

mutmut 3 names a mutant after the module path it mutates (`spacewatch/extractors/urls.py` is
`spacewatch.extractors.urls`) and puts its `mutants/` copy first on sys.path. This repository
maps top-level folders to `spacewatch.*` (pyproject.toml's package-dir), so mutmut cannot run in
it directly: the tests would import the unmutated editable install. The runner therefore builds
a staging tree per module, `.mutation/<module>/`, laid out the way the package installs
(`spacewatch/extractors/...`), with the tests beside it, and runs mutmut there with one worker.
Results are read from mutmut's own per-file records and printed as killed/total per module.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODULES = REPO / "mutation" / "modules.toml"
STAGE = REPO / ".mutation"
KILLED = {1, 3}  # mutmut: a failing test run, or pytest's internal error
SURVIVED = {0}
NOT_COUNTED = {None, 34}  # not run yet, or skipped by a pragma


@dataclass(frozen=True)
class Module:
    name: str
    file: str
    tests: tuple[str, ...]
    exclude: tuple[str, ...]
    ci: bool
    floor: float


def load_modules(path: Path = MODULES) -> list[Module]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [
        Module(
            name=name,
            file=spec["file"],
            tests=tuple(spec["tests"]),
            exclude=tuple(spec.get("exclude", ())),
            ci=bool(spec.get("ci", False)),
            floor=float(spec.get("floor", 85)),
        )
        for name, spec in data["modules"].items()
    ]


def package_dirs(repo: Path = REPO) -> dict[str, str]:
    """Import package -> folder, from pyproject.toml (`spacewatch.flows` -> `flows`)."""
    data = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    mapping = data.get("tool", {}).get("setuptools", {}).get("package-dir", {})
    return dict(mapping) or {"spacewatch": "spacewatch"}


def staged_path(file: str, dirs: dict[str, str]) -> Path:
    """Where a repository file sits in the staging tree: its import path as folders."""
    best = max(
        (
            (package, folder)
            for package, folder in dirs.items()
            if file.startswith(folder.rstrip("/") + "/")
        ),
        key=lambda pair: len(pair[1]),
        default=None,
    )
    if best is None:
        raise SystemExit(f"mutation: {file} is in no package folder of pyproject.toml")
    package, folder = best
    return Path(*package.split(".")) / file[len(folder.rstrip("/")) + 1 :]


def check_listed(modules: list[Module], repo: Path = REPO) -> None:
    """One clear line, and exit status 1, for the first listed file that does not exist."""
    for module in modules:
        for path in (module.file, *module.tests):
            if not (repo / path).is_file():
                raise SystemExit(
                    f"mutation: {module.name}: listed file {path} does not exist "
                    f"(update {MODULES.relative_to(repo)})"
                )


_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


def stage(module: Module, dirs: dict[str, str], *, again: bool = False) -> Path:
    """A fresh .mutation/<module>/ laid out as installed, with the tests and mutmut's settings.
    One tree per module, so mutmut picks, for each mutant, among that module's tests only.
    `again` keeps an existing tree and its results and refreshes only the tests."""
    root = STAGE / module.name
    if again and root.is_dir():
        shutil.copytree(REPO / "tests", root / "tests", ignore=_IGNORE, dirs_exist_ok=True)
        write_settings(module, dirs, root)
        return root
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for package, folder in sorted(dirs.items(), key=lambda pair: pair[0].count(".")):
        shutil.copytree(
            REPO / folder, root / Path(*package.split(".")), ignore=_IGNORE, dirs_exist_ok=True
        )
    shutil.copytree(REPO / "tests", root / "tests", ignore=_IGNORE)
    write_settings(module, dirs, root)
    uncache(root / staged_path(module.file, dirs))
    return root


def write_settings(module: Module, dirs: dict[str, str], root: Path) -> None:
    """pytest's settings from pyproject.toml, and mutmut's for this module."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    pytest_ini = project["tool"]["pytest"]["ini_options"]
    tests = list(module.tests)
    only = [str(staged_path(module.file, dirs))]
    lines = [
        "[tool.pytest.ini_options]",
        *(f"{key} = {json.dumps(value)}" for key, value in pytest_ini.items()),
        "",
        "[tool.mutmut]",
        'source_paths = ["spacewatch"]',
        # A mutant that loops is caught at 3x its tests' clean time (+5 s for a loaded
        # machine), not mutmut's 15x: one such mutant otherwise costs minutes.
        "timeout_multiplier = 3.0",
        "timeout_constant = 5.0",
        f"only_mutate = {json.dumps(only)}",
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
        # Slow tests start Prefect or many processes: minutes per mutant, and they run the
        # installed package in subprocesses, which a mutant never reaches anyway.
        # A fixed Hypothesis seed: a mutant is judged by the same examples every run.
        "pytest_add_cli_args = "
        + json.dumps(
            ["-m", "not slow", "-p", "no:cacheprovider", "-q", "--hypothesis-seed=0"]
            + [arg for test in module.exclude for arg in ("--deselect", test)]
        ),
        "",
    ]
    (root / "pyproject.toml").write_text("\n".join(lines), encoding="utf-8")


_CACHE = re.compile(r"^[ \t]*@(functools\.)?(lru_cache|cache)\b.*\n", re.MULTILINE)


def uncache(path: Path) -> None:
    """Drop memoising decorators from a staged module. mutmut skips decorated functions, and a
    cache filled by the clean run would answer for a mutant; memoising changes no result."""
    text = path.read_text(encoding="utf-8")
    path.write_text(_CACHE.sub("", text), encoding="utf-8")


def meta_path(module: Module, dirs: dict[str, str]) -> Path:
    return STAGE / module.name / "mutants" / (str(staged_path(module.file, dirs)) + ".meta")


def exit_codes(module: Module, dirs: dict[str, str]) -> dict[str, int | None]:
    """mutmut's verdict per mutant (its exit code), from its record of the file."""
    meta = meta_path(module, dirs)
    if not meta.is_file():
        return {}
    return json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]


def keep_verdicts(module: Module, dirs: dict[str, str], earlier: dict[str, int | None]) -> None:
    """Put back the verdicts of mutants not run again. mutmut forgets every verdict when the
    tests it may choose from change, though a new test can only kill more mutants."""
    meta = meta_path(module, dirs)
    data = json.loads(meta.read_text(encoding="utf-8"))
    now = data["exit_code_by_key"]
    data["exit_code_by_key"] = {
        key: now[key] if now.get(key) is not None else earlier.get(key) for key in now
    }
    meta.write_text(json.dumps(data), encoding="utf-8")


def counts(module: Module, dirs: dict[str, str]) -> tuple[int, int, list[str]]:
    """(killed, total, surviving mutant names) from mutmut's record of one file."""
    codes = exit_codes(module, dirs)
    counted = {k: v for k, v in codes.items() if v not in NOT_COUNTED}
    killed = sum(1 for v in counted.values() if v in KILLED or v not in SURVIVED | {5, 33})
    survivors = sorted(k for k, v in counted.items() if v in SURVIVED | {5, 33})
    return killed, len(counted), survivors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="module names from mutation/modules.toml")
    parser.add_argument("--ci", action="store_true", help="the ci modules; fail under a floor")
    parser.add_argument("--survivors", action="store_true", help="list surviving mutants")
    parser.add_argument(
        "--again",
        action="store_true",
        help="keep the last run's results and test its survivors against today's tests",
    )
    args = parser.parse_args(argv)

    modules = load_modules()
    known = {m.name for m in modules}
    unknown = [name for name in args.modules if name not in known]
    if unknown:
        raise SystemExit(f"mutation: unknown module {unknown[0]} (known: {', '.join(known)})")
    if args.modules:
        modules = [m for m in modules if m.name in args.modules]
    if args.ci:
        modules = [m for m in modules if m.ci]
    check_listed(modules)
    dirs = package_dirs()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    mutmut = [sys.executable, "-m", "mutmut", "run", "--max-children", "1"]

    failed = []
    began = time.monotonic()
    print(f"{'module':18} {'file':28} {'killed':>7} {'total':>6} {'score':>7} {'time':>6}")
    for module in modules:
        started = time.monotonic()
        earlier = exit_codes(module, dirs) if args.again else {}
        rerun = counts(module, dirs)[2] if args.again else []
        root = stage(module, dirs, again=args.again)
        if args.again and not rerun:
            done = subprocess.CompletedProcess(mutmut, 0)  # nothing survived: nothing to run
        else:
            done = subprocess.run(
                [*mutmut, *rerun], cwd=root, env=env, stdout=subprocess.DEVNULL, check=False
            )
        if earlier and done.returncode == 0:
            keep_verdicts(module, dirs, earlier)
        elapsed = time.monotonic() - started
        if done.returncode != 0:
            print(
                f"mutation: {module.name}: mutmut failed (exit {done.returncode}); "
                f"run `mutmut run` in {root.relative_to(REPO)} to see why",
                file=sys.stderr,
            )
            failed.append(module)
            continue
        killed, total, survivors = counts(module, dirs)
        score = 100.0 * killed / total if total else 0.0
        mark = ""
        if args.ci and score < module.floor:
            failed.append(module)
            mark = f"  below floor {module.floor:g}%"
        print(
            f"{module.name:18} {module.file:28} {killed:7} {total:6} {score:6.1f}% "
            f"{elapsed:5.0f}s{mark}",
            flush=True,
        )
        if args.survivors:
            for name in survivors:
                print(f"    survived: {name}", flush=True)
    print(f"mutation: {time.monotonic() - began:.0f} s in all")
    if failed:
        names = ", ".join(m.name for m in failed)
        print(f"mutation: failed or below the floor: {names}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
