"""Import cycles inside jdal, read from the source (nothing is imported).

    python scripts/import_cycles.py          # exit status 1 when a cycle exists

An edge A -> B is an `import` in A's module body of B, or of a name that B's
`__init__` defines (importing a submodule, `from jdal.problems import registry`,
is an edge to that submodule only: Python runs the parent package first, and
that is not a cycle unless the package's names are used). Imports inside
functions run at call time and are listed apart, as deferred edges: they are the
places that would be cycles if moved to the top.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "jdal"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = ROOT / Path(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def targets(node: ast.AST, current: str, is_package: bool) -> list[str]:
    """The jdal modules an import statement depends on."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "jdal"]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:  # relative: from . import x / from .x import y
        base = current.split(".")
        base = base if is_package else base[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    if source.split(".")[0] != "jdal":
        return []
    found = []
    for alias in node.names:
        sub = f"{source}.{alias.name}"
        found.append(sub if is_module(sub) else source)
    return found


def edges() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module-level edges, deferred edges inside functions) of every module."""
    top: dict[str, set[str]] = {}
    deferred: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text())
        top[name], deferred[name] = set(), set()
        for node in tree.body:
            top[name].update(targets(node, name, is_package))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    deferred[name].update(targets(inner, name, is_package))
        top[name].discard(name)
        deferred[name] -= top[name] | {name}
    return top, deferred


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle's smallest rotation, found by depth-first search."""
    found = set()

    def visit(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                i = path.index(min(path))
                found.add(tuple(path[i:] + path[:i]))
            elif nxt not in path and nxt > start:
                visit(start, nxt, [*path, nxt])

    for start in sorted(graph):
        visit(start, start, [start])
    return [list(c) for c in sorted(found)]


def main() -> int:
    top, deferred = edges()
    found = cycles(top)
    print(f"{len(top)} modules; module-level import cycles: {len(found)}")
    for cycle in found:
        print("  " + " -> ".join([*cycle, cycle[0]]))
    print("deferred imports (inside functions, run at call time):")
    for name, mods in sorted(deferred.items()):
        if mods:
            print(f"  {name} -> {', '.join(sorted(mods))}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
