"""The layering check (`lint-imports`, contracts in pyproject.toml) really fails on a wrong import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gateway", "partners", "sandbox", "openapi", "sdk/openplatform")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the source packages and the contracts, to break without touching the real tree."""
    root = tmp_path_factory.mktemp("layering")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, ahead of the editable installs of the real tree.
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root / 'sdk'}"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, check=False
    )


def _add_import(module: Path, statement: str) -> None:
    text = module.read_text()
    head, _, rest = text.partition("from __future__ import annotations\n")
    module.write_text(f"{head}from __future__ import annotations\n{statement}\n{rest}")


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("module", "statement", "contract"),
    [
        (
            "gateway/domain/money.py",
            "import gateway.storage.database",
            "The domain depends on nothing outside it",
        ),
        (
            "partners/models.py",
            "import httpx",
            "The rules (domain, partners, sandbox) never import a framework",
        ),
        (
            "gateway/apis/v1/orders/routes.py",
            "import gateway.storage.database",
            "The wire (apis, web) reaches storage only through the domain",
        ),
        (
            "gateway/storage/database.py",
            "import gateway.edge.principal",
            "Adapters implement domain ports and never import the edge, auth or the wire",
        ),
        ("sdk/openplatform/client.py", "import gateway.settings", "The SDK never imports the server"),
    ],
)
def test_a_wrong_import_breaks_its_contract(
    tree: Path, tmp_path: Path, module: str, statement: str, contract: str
) -> None:
    broken = tmp_path / "tree"
    shutil.copytree(tree, broken)
    _add_import(broken / module, statement)
    result = _lint(broken)
    assert result.returncode == 1
    assert f"{contract} BROKEN" in result.stdout
