"""Run import-linter's contracts (pyproject.toml) on the whole `spacewatch` package.

The editable install maps `spacewatch.flows` to `flows/` (and so on) through an import hook,
so a tool that walks the files of the `spacewatch` package finds only `spacewatch/`. This
builds the tree such tools expect, `<tmp>/spacewatch/<folder>/<module>.py`, as links to the
real files, from `package-dir` in pyproject.toml (a new folder or module needs no reinstall),
and runs `lint-imports` on it. Usage: python tests/layers.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_link_tree(target: Path, root: Path = ROOT) -> Path:
    """Link every .py file of every mapped folder into `target` at its import path; returns
    the folder to put first on sys.path."""
    pyproject = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))
    mapping = pyproject["tool"]["setuptools"]["package-dir"]
    for package, folder in mapping.items():
        source = root / folder
        dest = target.joinpath(*package.split("."))
        for path in source.rglob("*.py"):
            relative = path.relative_to(source)
            # a mapped sub-package (spacewatch.flows inside spacewatch/) is linked on its own
            if package == "spacewatch" and relative.parts[0] in {
                name.split(".")[1] for name in mapping if name.count(".") == 1
            }:
                continue
            link = dest / relative
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(path)
    return target


def lint_imports(tree: Path, root: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with the link tree first on the path and pyproject.toml's contracts."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [
        str(Path(sys.executable).with_name("lint-imports")),
        str(root / "pyproject.toml"),
        "--no-cache",
        "--no-logo",
    ]
    return subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="spacewatch-layers-") as folder:
        result = lint_imports(build_link_tree(Path(folder)))
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
