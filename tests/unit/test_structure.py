"""The package's floor plan: rooms by concern, each importing only the rooms below it, and no import
cycles among clipinv's modules (imports inside functions count as much as those at the top)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "clipinv"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """The package's own modules `path` imports, anywhere in the file (top level or inside functions)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                head = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(head + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                out.add(full if full in modules else base)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return {m for m in out if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    files = list(PACKAGE.rglob("*.py"))
    modules = {module_name(f) for f in files}
    return {module_name(f): imports(f, modules) for f in files}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return path[path.index(dep) :] + [dep]
            if dep not in state:
                found = visit(dep, path + [dep])
                if found:
                    return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


ROOMS = ("core", "models", "worlds", "analyses", "book", "runs", "cli")

# The rooms each room may import (besides itself and the top-level `clipinv.errors`, `clipinv.version`
# and `clipinv.safety`): the method knows no model, world, analysis, book or run; the models know the
# method; a world knows the method and the models; the analyses read worlds; a run plans and spreads
# the method's work; the book presents all of it; the command line drives everything.
MAY_IMPORT = {
    "core": set(),
    "models": {"core"},
    "worlds": {"core", "models"},
    "analyses": {"core", "models", "worlds"},
    "runs": {"core", "models"},
    "book": {"core", "models", "worlds", "analyses", "runs"},
    "cli": {"core", "models", "worlds", "analyses", "runs", "book"},
    "safety": set(),
}


def room(module: str) -> str | None:
    """'clipinv.core.invert' -> 'core'; 'clipinv.safety' -> 'safety'; the package itself and its
    top-level errors and version -> None (anyone may import them)."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in ROOMS:
        return parts[1]
    if module == "clipinv.safety":
        return "safety"
    return None


def crossings(graph: dict[str, set[str]]) -> list[str]:
    """Every import from one room into a room it may not import, as 'a -> b'."""
    bad = []
    for a, deps in sorted(graph.items()):
        ra = room(a)
        if ra is None:
            continue
        for b in sorted(deps):
            rb = room(b)
            if b == "clipinv":
                bad.append(f"{a} -> clipinv (import from the room that defines it, not the package's front)")
            elif rb not in (None, ra) and rb not in MAY_IMPORT[ra] | {"safety"}:
                bad.append(f"{a} -> {b}")
    return bad


def test_the_rule_finds_a_crossing():
    graph = {
        "clipinv.core.invert": {"clipinv.book.section", "clipinv.errors"},
        "clipinv.book.section": {"clipinv.core.invert"},
    }
    assert crossings(graph) == ["clipinv.core.invert -> clipinv.book.section"]
    assert crossings({"clipinv.models.load": {"clipinv"}})


def test_every_module_lives_in_a_room():
    loose = {
        m
        for m in import_graph()
        if m.count(".") == 1 and m.split(".")[1] not in (*ROOMS, "errors", "version", "safety")
    }
    assert not loose, f"give these modules a room: {sorted(loose)}"


def test_each_room_imports_only_the_rooms_below_it():
    bad = crossings(import_graph())
    assert not bad, "imports across the floor plan:\n" + "\n".join(bad)


def test_clipinv_has_no_import_cycle():
    graph = import_graph()
    assert "clipinv.core.invert" in graph and "clipinv.core.recipe" in graph["clipinv.core.invert"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))
