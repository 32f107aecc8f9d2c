"""The house rules of the tree, read from every module's imports (ast): they fail when a change
imports against the layers, so the rooms stay what docs/architecture.md says they are.

- Top-level layers: domain <- ledger <- projections <- federation_api; nothing imports upwards.
- Inside ledger: ground (errors, codec, signing, hsm_keys) <- storage, trust <- chain <-
  transparency <- proofs, audit <- service, ingest. Inside federation_api: settings, clock,
  errors <- notifications, replication <- node <- proofs, audit, backup <- web <- demo <- cli.
  A module may import its own room (subpackage) and any lower one, never a higher one or a
  peer of its level (storage and trust, notifications and replication, proofs and audit stay
  apart).
- No route module (one that defines a top-level `router`) imports another route module.
- federation_api reads projections through the reader API only, never their SQL tables.
- Only federation_api/clock.py reads the time of day.
- No import circle among the four packages' modules, counting imports inside functions and
  under TYPE_CHECKING (a circle broken by a late import is still a circle).
- No module imports a test module (`test_*.py`); shared test code lives in fixture modules.

Each rule is also run against a small tree that breaks it, so none of them can pass vacuously.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "ledger", "projections", "federation_api")
TOP_ORDER = {"domain": 0, "ledger": 1, "projections": 2, "federation_api": 3}

# Sub-layers: room -> level. A room is a subpackage or a top module of the package.
LEDGER_LEVELS = {
    "errors": 0, "codec": 0, "signing": 0, "hsm_keys": 0,
    "storage": 1, "trust": 1,
    "chain": 2,
    "transparency": 3,
    "proofs": 4, "audit": 4, "credentials": 4,
    "service": 5, "ingest": 5,
}
FEDERATION_LEVELS = {
    "settings": 0, "clock": 0, "errors": 0, "rate_buckets": 0,
    "mail": 1, "migrations": 1, "documents": 1,
    "accounts": 2, "notifications": 2, "replication": 2, "credentials": 2, "people": 2,
    "ratings": 2, "fees": 2,
    "node": 3, "portal": 3, "reminders": 3,
    "proofs": 4, "audit": 4, "backup": 4,
    "web": 5,
    "demo": 6,
    "cli": 7,
}
SUB_LEVELS = {"ledger": LEDGER_LEVELS, "federation_api": FEDERATION_LEVELS}
# The ground modules of a package's lowest level may import each other.
GROUND = {"ledger": {"errors", "codec", "signing", "hsm_keys"},
          "federation_api": {"settings", "clock", "errors", "rate_buckets"}}
CLOCK_MODULE = "federation_api.clock"
READS_TIME = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"),
              ("date", "today"), ("time", "time"), ("time", "time_ns")}


@dataclass(frozen=True)
class Import:
    """One import statement's target, where it stands, and whether it is module-level."""

    source: str  # importing module
    target: str  # imported module (or package)
    line: int


@dataclass(frozen=True)
class Module:
    """A parsed module of the tree."""

    name: str
    path: Path
    relative: str  # the path below the tree's root, for messages
    tree: ast.Module


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def load(root: Path, tops: Iterable[str]) -> dict[str, Module]:
    """Every module below the named top-level directories of `root`."""
    modules = {}
    for top in tops:
        for path in sorted((root / top).rglob("*.py")):
            name = module_name(root, path)
            modules[name] = Module(name, path, path.relative_to(root).as_posix(),
                                   ast.parse(path.read_text(), str(path)))
    return modules


def imports(module: Module, known: set[str]) -> Iterator[Import]:
    """Every import of a known module, anywhere in the module (functions included).

    `from pkg import name` counts as importing `pkg.name` when that is a module, else `pkg`.
    """
    seen: set[tuple[str, int]] = set()
    for found in _imports(module, known):
        if (found.target, found.line) not in seen:
            seen.add((found.target, found.line))
            yield found


def _imports(module: Module, known: set[str]) -> Iterator[Import]:
    package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in known or alias.name in known:
                    yield Import(module.name, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in known:
                    yield Import(module.name, full, node.lineno)
                elif base in known or base.split(".")[0] in known:
                    yield Import(module.name, base, node.lineno)


def _room(name: str) -> tuple[str, str | None]:
    """(top-level package, room) of a module: its subpackage or its top module's name."""
    parts = name.split(".")
    return parts[0], (parts[1] if len(parts) > 1 else None)


def layer_violations(modules: dict[str, Module]) -> list[str]:
    """Imports against the top-level order or a package's sub-layer order."""
    known = set(modules) | set(PACKAGES)
    found = []
    for module in modules.values():
        src_top, src_room = _room(module.name)
        if src_top not in TOP_ORDER:
            continue
        for imp in imports(module, known):
            dst_top, dst_room = _room(imp.target)
            if dst_top not in TOP_ORDER:
                continue
            where = f"{module.relative}:{imp.line}"
            if TOP_ORDER[dst_top] > TOP_ORDER[src_top]:
                found.append(f"{where}: {module.name} imports {imp.target} (upwards)")
                continue
            levels = SUB_LEVELS.get(src_top)
            if dst_top != src_top or levels is None or src_room is None or dst_room is None:
                continue
            if src_room == dst_room:
                continue  # within one room
            if src_room not in levels or dst_room not in levels:
                found.append(f"{where}: {module.name} or {imp.target} is in no layer of "
                             f"{src_top} (add its room to the layer table and the docs)")
                continue
            src_level, dst_level = levels[src_room], levels[dst_room]
            ground = GROUND[src_top]
            if dst_level > src_level or (dst_level == src_level and not (
                    src_room in ground and dst_room in ground)):
                found.append(f"{where}: {module.name} (level {src_level}) imports "
                             f"{imp.target} (level {dst_level})")
    return found


def _defines_router(module: Module) -> bool:
    return any(isinstance(node, ast.Assign)
               and any(isinstance(t, ast.Name) and t.id == "router" for t in node.targets)
               for node in module.tree.body)


def route_violations(modules: dict[str, Module]) -> list[str]:
    """Route modules (those defining `router`) importing one another."""
    routers = {name for name, module in modules.items() if _defines_router(module)}
    return [f"{imp.source} imports the route module {imp.target}"
            for name in sorted(routers)
            for imp in imports(modules[name], set(modules)) if imp.target in routers]


def projection_sql_violations(modules: dict[str, Module]) -> list[str]:
    """The edge importing the projections' table definitions (their SQL)."""
    return [f"{imp.source} imports {imp.target}"
            for name, module in sorted(modules.items()) if name.startswith("federation_api")
            for imp in imports(module, set(modules)) if imp.target == "projections.tables"]


def clock_violations(modules: dict[str, Module]) -> list[str]:
    """Reads of the time of day anywhere but the edge's clock."""
    found = []
    for name, module in sorted(modules.items()):
        if name == CLOCK_MODULE or _room(name)[0] not in TOP_ORDER:
            continue
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                owner_name = (owner.attr if isinstance(owner, ast.Attribute)
                              else owner.id if isinstance(owner, ast.Name) else "")
                if (owner_name, node.func.attr) in READS_TIME:
                    found.append(f"{name}:{node.lineno} calls {owner_name}.{node.func.attr}()")
    return found


def cycles(modules: dict[str, Module]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    known = set(modules)
    graph = {name: sorted({i.target for i in imports(m, known) if i.target in known
                           and i.target != name})
             for name, m in modules.items() if _room(name)[0] in TOP_ORDER}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def imports_of_test_modules(modules: dict[str, Module]) -> list[str]:
    """Imports of a test module (`test_*.py`) from anywhere."""
    tests = {name for name, m in modules.items() if m.path.name.startswith("test_")}
    return [f"{imp.source} imports the test module {imp.target}"
            for module in modules.values()
            for imp in imports(module, set(modules)) if imp.target in tests]


@pytest.fixture(scope="module")
def tree() -> dict[str, Module]:
    modules = load(ROOT, (*PACKAGES, "tests", "bench"))
    # The tree is really read: every package and the rooms of both ordered packages.
    assert len([m for m in modules if _room(m)[0] in TOP_ORDER]) > 100
    return modules


# -- the rules on the real tree ------------------------------------------------------------


def test_every_room_of_ledger_and_federation_api_has_a_layer(tree: dict[str, Module]) -> None:
    for package, levels in SUB_LEVELS.items():
        rooms = {_room(name)[1] for name in tree if _room(name)[0] == package} - {None}
        assert rooms <= set(levels), f"{package}: rooms without a layer: {rooms - set(levels)}"
        assert set(levels) <= rooms, f"{package}: layers naming no room: {set(levels) - rooms}"


def test_no_module_imports_against_the_layers(tree: dict[str, Module]) -> None:
    assert layer_violations(tree) == []


def test_no_route_module_imports_another(tree: dict[str, Module]) -> None:
    routers = [name for name, m in tree.items() if _defines_router(m)]
    assert len(routers) >= 9  # the seven API route modules and the HTML pages
    assert route_violations(tree) == []


def test_the_edge_reads_projections_only_through_the_reader_api(
        tree: dict[str, Module]) -> None:
    assert projection_sql_violations(tree) == []


def test_only_the_clock_reads_the_time(tree: dict[str, Module]) -> None:
    assert clock_violations(tree) == []


def test_no_import_circles(tree: dict[str, Module]) -> None:
    assert cycles(tree) == []


def test_no_module_imports_a_test_module(tree: dict[str, Module]) -> None:
    assert imports_of_test_modules(tree) == []


# -- each rule catches a tree that breaks it ------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> dict[str, Module]:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return load(root, sorted({Path(r).parts[0] for r in files}))


BROKEN = {
    "upwards": ({"ledger/__init__.py": "", "ledger/codec.py": "import federation_api.clock\n",
                 "federation_api/__init__.py": "", "federation_api/clock.py": ""},
                layer_violations, "upwards"),
    "sub-layer": ({"ledger/__init__.py": "", "ledger/chain/__init__.py": "",
                   "ledger/chain/store.py": "from ledger.transparency.log import LedgerLog\n",
                   "ledger/transparency/__init__.py": "", "ledger/transparency/log.py": ""},
                  layer_violations, "level 2"),
    "peer rooms": ({"federation_api/__init__.py": "",
                    "federation_api/replication/__init__.py": "",
                    "federation_api/replication/replicator.py":
                        "def f():\n    from federation_api.notifications import notifier\n",
                    "federation_api/notifications/__init__.py": "",
                    "federation_api/notifications/notifier.py": ""},
                   layer_violations, "level 2"),
    "no room": ({"ledger/__init__.py": "", "ledger/misc/__init__.py": "",
                 "ledger/misc/helpers.py": "from ledger.chain import store\n",
                 "ledger/chain/__init__.py": "", "ledger/chain/store.py": ""},
                layer_violations, "no layer"),
    "route to route": ({"federation_api/__init__.py": "", "federation_api/web/__init__.py": "",
                        "federation_api/web/routes/__init__.py": "",
                        "federation_api/web/routes/a.py":
                            "from federation_api.web.routes.b import helper\nrouter = 1\n",
                        "federation_api/web/routes/b.py": "router = 2\ndef helper(): ...\n"},
                       route_violations, "route module"),
    "projection SQL": ({"federation_api/__init__.py": "", "projections/__init__.py": "",
                        "projections/tables.py": "",
                        "federation_api/notifier.py": "from projections.tables import select\n"},
                       projection_sql_violations, "projections.tables"),
    "clock": ({"federation_api/__init__.py": "", "federation_api/clock.py": "",
               "federation_api/audit.py": "import datetime as dt\nx = dt.datetime.now(dt.UTC)\n"},
              clock_violations, "datetime.now"),
    "circle": ({"projections/__init__.py": "",
                "projections/rows.py": "from projections.standing import Standing\n",
                "projections/standing.py":
                    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                    "    from projections.rows import HistoryRow\n"},
               lambda m: [" ".join(c) for c in cycles(m)], "projections.rows"),
    "test imports test": ({"tests/__init__.py": "", "tests/a/__init__.py": "",
                           "tests/a/test_one.py": "from tests.b.test_two import Peer\n",
                           "tests/b/__init__.py": "", "tests/b/test_two.py": "Peer = 1\n"},
                          imports_of_test_modules, "test module"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_rule_catches_a_tree_that_breaks_it(case: str, tmp_path: Path) -> None:
    files, rule, expected = BROKEN[case]
    found = rule(_write(tmp_path, files))
    assert any(expected in finding for finding in found), found
