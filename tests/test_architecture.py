"""The house's shape, checked from the code's own imports: no import cycle
anywhere in the project's packages (function-local imports included), and the
layering contracts of pyproject.toml hold (``lint-imports``, also run by CI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("loyalty", "merchants", "config", "campaigns", "analytics")


def import_cycles(graph) -> set[tuple[str, str]]:
    cycles = set()
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            if graph.find_shortest_chain(importer=imported, imported=importer):
                cycles.add(tuple(sorted((importer, imported))))
    return cycles


def test_no_import_cycles():
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    assert import_cycles(graph) == set()


def test_no_cycles_between_domain_packages():
    # One level up: loyalty.ledger and loyalty.enrollment may not import each
    # other through different modules either (a room-to-room loop).
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)

    def room(module: str) -> str:
        return ".".join(module.split(".")[:2])

    edges = {
        (room(importer), room(imported))
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if room(importer) != room(imported)
    }
    assert {edge for edge in edges if edge[::-1] in edges} == set()


def test_cycle_finder_sees_a_cycle():
    # The finder itself: two modules importing each other are reported.
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.a")
    assert import_cycles(graph) == {("pkg.a", "pkg.b")}


def test_layering_contracts_hold():
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "broken" not in result.stdout.lower().replace("0 broken", "")
