"""The core's import layering (docs/architecture.md, "Layers"):

    models, normalize, errors  <-  connectors  <-  core engine (state, scoring, handoff, sync, ...)  <-  cli

Every import is counted, function-local ones included (a hidden import is still a dependency).
The core never imports a plugin, the engine never imports the CLI, and the core packages import
each other without cycles. (The plugins' side is checked by the toolkit's own import test.)
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
BASE = {"core.models", "core.normalize", "core.errors"}
# The testing toolkit's reach into the core: the demo data (re-exported to plugin fakes as
# `leadsync.connectors.testing.generate_demo`) and the CLI that DemoProject.invoke runs in-process.
# The vendor fakes moved next to their plugins. This list may only shrink.
KNOWN_TOOLKIT_REACH = {
    ("leadsync.connectors.testing.project", "core.demo"),
    ("leadsync.connectors.testing.project", "core.cli"),
}


def _module(path: Path) -> str:
    parts = ["leadsync", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for p in SRC.rglob("*.py")}


def imports(path: Path) -> set[str]:
    """Every module `path` imports (absolute imports; `from pkg import sub` counts as pkg.sub)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in MODULES else node.module)
    return found


def group(module: str) -> str | None:
    """'connectors', 'core.<package or module>', 'plugin' or None (stdlib, third party)."""
    parts = module.split(".")
    if parts[0].startswith("leadsync_"):
        return "plugin"
    if parts[:2] == ["leadsync", "connectors"]:
        return "connectors"
    if parts[:2] == ["leadsync", "core"] and len(parts) > 2:
        return f"core.{parts[2]}"
    return None


EDGES = [(m, target) for m, path in sorted(MODULES.items()) for target in sorted(imports(path))]


def test_the_walker_sees_function_local_and_from_imports():
    engine = imports(MODULES["leadsync.core.sync.engine"])
    assert "leadsync.core.handoff" in engine and "leadsync.core.state.runs" in engine


def test_core_never_imports_a_plugin():
    assert [(m, t) for m, t in EDGES if group(t) == "plugin"] == []


def test_base_modules_import_nothing_above_them():
    bad = [(m, t) for m, t in EDGES if group(m) in BASE and group(t) not in (None, *BASE)]
    assert bad == []


def test_connectors_import_only_the_base_of_the_core():
    bad = {(m, group(t)) for m, t in EDGES if group(m) == "connectors" and (group(t) or "").startswith("core.")
           and group(t) not in BASE}
    assert bad - KNOWN_TOOLKIT_REACH == set()


def test_the_engine_never_imports_the_cli():
    bad = [(m, t) for m, t in EDGES
           if (group(m) or "").startswith("core.") and group(m) != "core.cli" and group(t) == "core.cli"]
    assert bad == []


def test_no_import_cycles_among_core_packages():
    graph: dict[str, set[str]] = defaultdict(set)
    for m, t in EDGES:
        a, b = group(m), group(t)
        if a and b and a != b and a.startswith("core.") and b.startswith("core."):
            graph[a].add(b)
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in path:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif len(path) < len(graph) + 1:
                visit(nxt, path + [nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert cycles == []


def test_the_state_layer_sits_below_the_engine():
    """state imports only the base, the toolkit's redaction, and itself."""
    bad = [(m, t) for m, t in EDGES if group(m) == "core.state" and (group(t) or "").startswith("core.")
           and group(t) not in (*BASE, "core.state")]
    assert bad == []
