"""The layer contracts in pyproject.toml bite: `lint-imports` keeps them on the tree as it is, and breaks the
right one when a copy of the tree gains a forbidden import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")
CONFIG = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
CONTRACT_NAMES = {contract["id"]: contract["name"] for contract in CONFIG["contracts"]}


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # lint-imports finds the root packages from its working directory, ahead of the installed project.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the packages the contracts cover, with the contracts."""
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path)
    for package in CONFIG["root_packages"]:
        shutil.copytree(REPO_ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = _lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "forbidden_import", "contract"),
    [
        ("api/services/catalog.py", "import activities.signing", "api"),
        ("workflows/constants.py", "import infra.db", "workflows"),
        ("workflows/details.py", "import sqlmodel", "workflows"),
        ("activities/events.py", "import workflows.subscription", "activities"),
        ("vouchers/claims.py", "import api.app", "domains"),
        ("models/money.py", "import httpx", "pure"),
        ("infra/settings.py", "import models.money", "layers"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tree: Path, module: str, forbidden_import: str, contract: str
) -> None:
    with (tree / module).open("a") as source:
        source.write(f"\n{forbidden_import}  # noqa: E402\n")
    result = _lint_imports(tree)
    assert result.returncode != 0, result.stdout
    broken_lines = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert f"{CONTRACT_NAMES[contract]} BROKEN" in broken_lines, result.stdout
