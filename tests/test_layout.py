"""The layout's dependency rule, checked on the source: `backend` imports no other project
package, `agent` imports only `backend`, and nothing but the CLI imports `tui`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"agent", "backend", "tui", "train", "eval", "cli"}
ALLOWED = {
    "backend": {"backend"},
    "agent": {"agent", "backend"},
    "train": {"train", "agent", "backend", "eval"},
    "eval": {"eval", "agent", "backend"},
    "tui": {"tui", "agent", "backend", "eval", "train"},
}


def project_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {n.split(".")[0] for n in names if n.split(".")[0] in PACKAGES}
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_dependencies_flow_one_way(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(bad)
        for path in (ROOT / package).rglob("*.py")
        if (bad := project_imports(path) - ALLOWED[package])
    }
    assert not offenders, f"{package} imports outside its allowed set: {offenders}"
