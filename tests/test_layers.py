"""The host's packages stay layered: no import cycle, and each imports only what is below it.

A newcomer reads ``host/`` from the bottom up (the wire formats, the worker, supervision,
the display path, what is on screen, the assembly, the commands); a cycle or an upward
import would make that order a lie. Imports are read from the source with ``ast``,
``TYPE_CHECKING`` and function-level imports included: a type-only cycle still means two
modules that cannot be understood apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HOST = REPO / "host"

#: Top-level modules that anything in ``host`` may import: they import nothing of ``host``
#: beyond each other.
FOUNDATION = {"host", "host.errors", "host.discovery", "host.stats", "host.namesafe"}
#: Bottom to top; a module may import its own layer, the ones below, and the foundation.
LAYERS: list[set[str]] = [
    {"host.ipc"},
    {"host.worker"},
    {"host.supervise"},
    {"host.display"},
    {"host.schedule"},
    {
        "host.app",
        "host.director",
        "host.outputs",
        "host.sidecars",
        "host.control",
        "host.planning",
        "host.reconfigure",
        "host.reload",
        "host.upgrades",
        "host.safemode",
        "host.system",
        "host.syncing",
        "host.mqtt",
        "host.heap",
    },
    {"host.cli", "host.author"},
    {"host.__main__"},
]


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in HOST.rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The ``host`` modules ``path`` imports (``from pkg import submodule`` resolved)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "host")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "host":
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def layer_of(name: str) -> int | None:
    if name in FOUNDATION:
        return -1
    for index, layer in enumerate(LAYERS):
        if any(name == top or name.startswith(top + ".") for top in layer):
            return index
    return None


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(g):
        if root in index:
            continue
        work = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(g[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_scan_sees_the_packages() -> None:
    """Verify the import scan finds real edges, so the tests below cannot pass vacuously."""
    g = graph()
    assert "host.ipc.framebus" in g["host.supervise.supervisor"]
    assert "host.supervise.supervisor" in g["host.app"]


def test_cycles_are_found_when_present() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_in_host_not_even_type_only() -> None:
    assert cycles(graph()) == []


def test_every_host_module_has_a_layer() -> None:
    assert [m for m in modules() if layer_of(m) is None] == []


@pytest.mark.parametrize("name", sorted(modules()))
def test_imports_only_its_own_layer_and_below(name: str) -> None:
    own = layer_of(name)
    assert own is not None
    upward = sorted(m for m in graph()[name] if (layer_of(m) or 0) > own)
    assert upward == [], f"{name} imports {upward}, which are above it (see tests/test_layers.py)"


@pytest.mark.parametrize("name", sorted(FOUNDATION))
def test_foundation_modules_import_only_the_foundation(name: str) -> None:
    assert graph()[name] <= FOUNDATION
