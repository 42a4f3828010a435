"""Imports point one way: screens → pwtui → protocol; only screens/ may import Textual."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "protocol": {"pwtui", "screens", "textual"},
    "pwtui": {"screens", "textual"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


CASES = [(pkg, path) for pkg in FORBIDDEN for path in sorted((ROOT / pkg).rglob("*.py"))]


@pytest.mark.parametrize("pkg,path", CASES, ids=[str(p.relative_to(ROOT)) for _, p in CASES])
def test_imports_point_one_way(pkg: str, path: Path) -> None:
    bad = _imports(path) & FORBIDDEN[pkg]
    # pwtui/cli.py starts the console, the single sanctioned lazy import of screens
    if path == ROOT / "pwtui" / "cli.py":
        bad -= {"screens"}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_only_the_serial_driver_and_simulator_touch_ports() -> None:
    for path in (ROOT / "protocol").glob("*.py"):
        if path.name in {"stick.py"}:
            continue
        assert "serial" not in _imports(path), f"{path.name} imports pyserial"
