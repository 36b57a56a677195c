"""The import graph of a source tree, read with `ast`, and the cycles in it."""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable
from pathlib import Path

ImportGraph = dict[str, set[str]]


def project_modules(
    root: Path, packages: Iterable[str], modules: Iterable[str] = ()
) -> dict[str, Path]:
    """Every module of `packages` (walked recursively) and the top-level `modules`, by name."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    for module in modules:
        found[module] = root / f"{module}.py"
    return found


def import_graph(modules: dict[str, Path]) -> ImportGraph:
    """Which of `modules` each one imports: every absolute or relative `import` statement,
    wherever it stands (in functions and `if TYPE_CHECKING:` blocks too)."""
    return {name: _imports_of(name, path, modules) for name, path in modules.items()}


def _imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(package, node.level, node.module)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"  # `from x.y import z` may name module x.y.z
                targets.add(submodule if submodule in modules else base)
    return {target for target in targets if target in modules and target != name}


def _absolute(package: str, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    parts = package.split(".")
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, module] if module else base)


def import_cycles(graph: ImportGraph) -> set[str]:
    """One cycle per module caught in a strongly connected component, as `a -> b -> a`,
    starting from its alphabetically first module so the same cycle reads the same."""
    cycles: set[str] = set()
    for component in strongly_connected_components(graph):
        named: set[str] = set()
        for start in sorted(component):
            if start in named:
                continue
            cycle = _shortest_cycle(graph, start, component)
            named.update(cycle)
            first = cycle.index(min(cycle))
            ring = cycle[first:] + cycle[:first]
            cycles.add(" -> ".join([*ring, ring[0]]))
    return cycles


def strongly_connected_components(graph: ImportGraph) -> list[set[str]]:
    """Tarjan's algorithm, iterative; only the components that hold a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            child = next(edges, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(component)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return components


def _shortest_cycle(graph: ImportGraph, start: str, component: set[str]) -> list[str]:
    """The modules of a shortest path from `start` back to itself, inside `component`."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(graph[node] & component):
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return path[::-1]
            if child not in came_from:
                came_from[child] = node
                queue.append(child)
    raise AssertionError(f"{start} is in a cycle but no path leads back to it")
