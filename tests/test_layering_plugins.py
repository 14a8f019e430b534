"""The plugin toolkit's layering, read from the source (ast): one-way imports and no cycles.

    leadsync.core.models / normalize / errors / demo   (leaves: import no other leadsync module)
          ^
    leadsync.connectors          (the toolkit; its public surface is leadsync.connectors.__all__)
          ^
    plugins/*/leadsync_*         (import only `leadsync.connectors` and `leadsync.core.models`;
                                  their tests and `testing` packages also `leadsync.connectors.testing`)

Orchestrator integrations (plugins/dagster) are not vendor plugins: they sit above the engine, beside
the CLI, and run a project's sync through the run entry point (`ORCHESTRATOR_MAY_USE`).

The core engine imports the toolkit, never a plugin. A new import across these lines, or any import
cycle among the toolkit's and plugins' modules, fails here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

LEAVES = {"leadsync.core.models", "leadsync.core.normalize", "leadsync.core.errors", "leadsync.core.demo"}
# What the toolkit may use of the core: the leaves (the demo data only in the testing toolkit).
TOOLKIT_MAY_USE = {"leadsync.core.models", "leadsync.core.normalize", "leadsync.core.errors"}
TESTING_MAY_USE = TOOLKIT_MAY_USE | {"leadsync.core.demo"}
PLUGIN_MAY_USE = {"leadsync.connectors", "leadsync.core.models"}
PLUGIN_TESTS_MAY_USE = PLUGIN_MAY_USE | {"leadsync.connectors.testing"}
# What `leadsync sync run` itself uses to run once: settings, plugin host, engine, its JSON summary.
ORCHESTRATORS = {"dagster"}
ORCHESTRATOR_MAY_USE = {"leadsync.core.config", "leadsync.core.errors", "leadsync.core.sync.engine",
                        "leadsync.core.cli.sync", "leadsync.connectors.plugins", "leadsync.connectors.redact"}
# Their tests also build demo projects with the CLI and hold a project's run lock.
ORCHESTRATOR_TESTS_MAY_USE = ORCHESTRATOR_MAY_USE | {"leadsync.core.cli.main", "leadsync.core.sync.lock"}
# Known exceptions, each with its reason; anything not listed here fails.
KNOWN = {
    # DemoProject.invoke runs the `leadsync` CLI in-process, as an operator would: the testing
    # toolkit drives the whole product. Imported when called, so it adds no import-time cycle.
    ("src/connectors/testing/project.py", "leadsync.core.cli.main"),
    # End-to-end tests read what the engine stored; they should use the state layer's named
    # operations once src/core/state/ offers them (the state-layer change owns that).
    ("plugins/kintone/tests/conftest.py", "leadsync.core.state.store"),
    ("plugins/salesforce/tests/conftest.py", "leadsync.core.state.store"),
    ("plugins/marketo/tests/test_marketo_kill9.py", "leadsync.core.state.store"),
    ("plugins/marketo/tests/test_marketo_project_e2e.py", "leadsync.core.state.store"),
}


def module_name(path: Path) -> str:
    """The import name of a source file (src/ is the package `leadsync`)."""
    if path.is_relative_to(SRC):
        parts = ["leadsync", *path.relative_to(SRC).with_suffix("").parts]
    else:  # plugins/<name>/<package>/...
        parts = list(path.relative_to(ROOT / "plugins").with_suffix("").parts[1:])
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def known_modules() -> dict[str, Path]:
    found = {module_name(p): p for p in SRC.rglob("*.py")}
    for package in (ROOT / "plugins").glob("*/leadsync_*"):
        found.update({module_name(p): p for p in package.rglob("*.py")})
    return found


MODULES = known_modules()


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node but those under `if TYPE_CHECKING:` (annotations only; never imported at run time)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def imports(path: Path) -> Iterator[str]:
    """Every module `path` imports at run time (anywhere in the file); `from pkg import sub` names pkg.sub."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES]
            if subs and len(subs) == len(node.names):
                yield from subs
            else:
                yield node.module


def leadsync_imports(path: Path) -> set[str]:
    return {m for m in imports(path) if m == "leadsync" or m.startswith(("leadsync.", "leadsync_"))}


def allowed(target: str, rules: set[str], own: str | None = None) -> bool:
    if own and (target == own or target.startswith(own + ".")):
        return True
    return target in rules


def violations() -> list[str]:
    found: list[str] = []

    def check(path: Path, rules: set[str], own: str | None, *, exact: bool = False) -> None:
        rel = path.relative_to(ROOT).as_posix()
        for target in sorted(leadsync_imports(path)):
            ok = allowed(target, rules, own) if exact else (
                allowed(target, rules, own) or any(target.startswith(r + ".") for r in rules if r.startswith("leadsync.connectors")))
            if not ok and (rel, target) not in KNOWN:
                found.append(f"{rel} imports {target}")

    for path in (SRC / "connectors").rglob("*.py"):
        testing = "testing" in path.relative_to(SRC / "connectors").parts
        check(path, TESTING_MAY_USE if testing else TOOLKIT_MAY_USE, "leadsync.connectors")
    for leaf in LEAVES:
        base = SRC.joinpath(*leaf.split(".")[1:])
        for path in [base.with_suffix(".py")] if base.with_suffix(".py").exists() else list(base.rglob("*.py")):
            check(path, LEAVES, leaf, exact=True)
    def plugin_of(path: Path) -> str:
        return path.relative_to(ROOT / "plugins").parts[0]

    for path in (ROOT / "plugins").glob("*/leadsync_*/**/*.py"):
        own = module_name(path).split(".")[0]
        is_testing = "testing" in path.parts
        if plugin_of(path) in ORCHESTRATORS:
            check(path, ORCHESTRATOR_MAY_USE, own, exact=True)
            continue
        check(path, PLUGIN_TESTS_MAY_USE if is_testing else PLUGIN_MAY_USE, own, exact=True)
    for path in (ROOT / "plugins").glob("*/tests/*.py"):
        packages = [p.name for p in path.parents[1].glob("leadsync_*") if p.is_dir() and "." not in p.name]
        rules = ORCHESTRATOR_TESTS_MAY_USE if plugin_of(path) in ORCHESTRATORS else PLUGIN_TESTS_MAY_USE
        check(path, rules, packages[0] if packages else None, exact=True)
    for path in SRC.rglob("*.py"):
        for target in leadsync_imports(path):
            if target.startswith("leadsync_"):
                found.append(f"{path.relative_to(ROOT).as_posix()} imports plugin {target}")
    return found


def cycles() -> list[list[str]]:
    """Strongly connected groups (more than one module) among the toolkit's and plugins' modules."""
    scope = {m for m in MODULES if m.startswith("leadsync.connectors") or m.startswith("leadsync_")}
    scope |= {m for m in MODULES if any(m == leaf or m.startswith(leaf + ".") for leaf in LEAVES)}
    graph = {m: {t for t in leadsync_imports(MODULES[m]) if t in scope and t != m} for m in scope}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_plugins_and_toolkit_import_only_across_allowed_lines() -> None:
    assert violations() == []


def test_no_import_cycles_among_toolkit_and_plugin_modules() -> None:
    assert cycles() == []


def test_the_checker_sees_what_it_checks() -> None:
    """The walk finds the modules and edges it must judge (a broken walk would pass vacuously)."""
    assert {"leadsync.connectors.http", "leadsync_hubspot.connector", "leadsync_marketo.testing.fake"} <= set(MODULES)
    assert "leadsync.connectors" in leadsync_imports(MODULES["leadsync_hubspot.connector"])
    assert "leadsync.connectors.paging" in leadsync_imports(MODULES["leadsync.connectors.http"])
    assert ("plugins/kintone/tests/conftest.py", "leadsync.core.state.store") in KNOWN


def test_every_public_name_is_exported_and_documented() -> None:
    import leadsync.connectors as toolkit

    missing = [name for name in toolkit.__all__ if not hasattr(toolkit, name)]
    assert missing == []
    documented = (ROOT / "docs" / "plugins" / "toolkit.md").read_text(encoding="utf-8")
    assert [name for name in toolkit.__all__ if f"`{name}`" not in documented] == []


def test_every_known_exception_is_still_needed() -> None:
    """The known list only shrinks: an entry whose import is gone must be removed from it."""
    saved = set(KNOWN)
    KNOWN.clear()
    try:
        found = set(violations())
    finally:
        KNOWN.update(saved)
    assert {f"{path} imports {target}" for path, target in saved} <= found
