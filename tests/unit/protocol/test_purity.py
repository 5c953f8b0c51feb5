"""pymeet.protocol is sans-I/O (DESIGN.md): no module in it imports I/O or UI libraries."""

from __future__ import annotations

import ast
from pathlib import Path

import pymeet.protocol

FORBIDDEN = {"asyncio", "socket", "sqlite3", "tkinter", "ssl", "selectors", "threading",
             "subprocess", "aiohttp"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_protocol_package_imports_no_io() -> None:
    package = Path(pymeet.protocol.__file__).parent
    modules = sorted(package.rglob("*.py"))
    assert len(modules) >= 5
    offenders = {p.name: sorted(imported_roots(p) & FORBIDDEN) for p in modules}
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_the_check_itself_catches_an_offender(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("import asyncio\nfrom socket import socket\n")
    assert imported_roots(module) & FORBIDDEN == {"asyncio", "socket"}
