"""The import-layering contracts (pyproject.toml, docs/architecture.md) see the real import
graph: the tree passes, and a forbidden import planted in it is caught and named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from layers import ROOT, build_link_tree, lint_imports


def test_the_tree_keeps_every_layering_contract(tmp_path: Path) -> None:
    result = lint_imports(build_link_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout
    # every folder is in the graph, not only spacewatch/ (what the import hook alone gives)
    analysed = int(result.stdout.split("Analyzed ")[1].split(" files")[0])
    assert analysed >= len(list(ROOT.glob("*/*.py"))) - len(list(ROOT.glob("tests/*.py")))


def test_without_the_link_tree_the_graph_is_only_the_root_folder() -> None:
    """Why tests/layers.py builds a tree: the editable install's hook hides the mapped folders
    from tools that walk files."""
    code = "import grimp; print(sorted(grimp.build_graph('spacewatch', cache_dir=None).modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    ).stdout
    assert "spacewatch.loopback" in out and "spacewatch.flows" not in out


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        (
            "extractors/urls.py",
            "import spacewatch.warehouse.connect",
            "extractors and seeds import no warehouse",
        ),
        ("seeds/train_model.py", "import apprise", "extractors and seeds import no warehouse"),
        (
            "warehouse/sqltext.py",
            "from spacewatch.flows import steps",
            "warehouse imports no flows",
        ),
        ("alerts/topics.py", "from spacewatch.cli import app", "nothing imports cli"),
    ],
)
def test_a_planted_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, planted: str, contract: str
) -> None:
    tree = build_link_tree(tmp_path)
    package, name = module.split("/")
    link = tree / "spacewatch" / package / name
    text = link.read_text("utf-8")
    link.unlink()
    link.write_text(text + f"\n{planted}  # planted by the test\n", "utf-8")
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert len(broken) == 1 and broken[0].startswith(contract), result.stdout
    assert f"spacewatch.{package}.{name[:-3]}" in result.stdout  # the offending module is named
