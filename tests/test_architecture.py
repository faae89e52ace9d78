"""The house rules of the code base, checked on the source (issue 13):

- no module imports a ``_private`` name of another module (nor reaches ``module._name``);
- no import cycles between modules (imports at module level; ``if TYPE_CHECKING`` excluded);
- no SQL outside ``engine/library/``;
- no file in ``engine/`` over 600 lines;
- ``engine`` never imports ``desktop`` or ``training``; ``training`` never imports ``desktop``.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "desktop", "training", "benchmarks")
MAX_ENGINE_LINES = 600


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = _modules()


def _trees() -> dict[str, ast.Module]:
    return {name: ast.parse(path.read_text(encoding="utf-8"), str(path))
            for name, path in MODULES.items()}


TREES = _trees()


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if MODULES[module].name != "__init__.py":
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_uses() -> list[str]:
    found = []
    for name, tree in TREES.items():
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                src = _resolve(name, node)
                for a in node.names:
                    if _is_private(a.name):
                        found.append(f"{MODULES[name]}:{node.lineno}: from {src} import {a.name}")
                    if f"{src}.{a.name}" in MODULES:
                        aliases[a.asname or a.name] = f"{src}.{a.name}"
                if any(_is_private(p) for p in src.split(".")) and not (
                        src.rsplit(".", 1)[0] == name.rsplit(".", 1)[0] or src.startswith(name + ".")):
                    found.append(f"{MODULES[name]}:{node.lineno}: imports the private module {src}")
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name in MODULES and a.asname:
                        aliases[a.asname] = a.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and _is_private(node.attr)):
                found.append(f"{MODULES[name]}:{node.lineno}: {node.value.id}.{node.attr}")
    return found


def _top_level_imports(name: str, tree: ast.Module) -> set[str]:
    """Modules of ours that ``name`` imports when it is imported (not inside functions)."""
    out: set[str] = set()

    def visit(body) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.ImportFrom):
                src = _resolve(name, node)
                for a in node.names:
                    target = f"{src}.{a.name}"
                    out.add(target if target in MODULES else src)
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, field, []):
                        visit(getattr(child, "body", [child]) if isinstance(child, ast.excepthandler)
                              else [child])
    visit(tree.body)
    return {m for m in out if m in MODULES and m != name}


def import_cycles() -> list[list[str]]:
    graph = {name: _top_level_imports(name, tree) for name, tree in TREES.items()}
    # a package's __init__ importing its own submodules is how packages work, not a cycle
    for name, deps in graph.items():
        graph[name] = {d for d in deps if not (MODULES[name].name == "__init__.py"
                                                and d.startswith(name + "."))}
    cycles, state, stack = [], {}, []

    def dfs(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                dfs(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            dfs(node)
    return cycles


SQL = re.compile(r"\b(SELECT\s+.+\s+FROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM"
                 r"|CREATE\s+(TABLE|INDEX)|PRAGMA\s+\w+)\b|\.execute(many)?\(", re.IGNORECASE)


def _docstrings() -> set[int]:
    """``id()`` of every docstring constant (they may describe SQL; code may not run it)."""
    ids = set()
    for tree in TREES.values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.body and isinstance(node.body[0], ast.Expr) and isinstance(
                        getattr(node.body[0], "value", None), ast.Constant):
                    ids.add(id(node.body[0].value))
    return ids


def sql_outside_library() -> list[str]:
    """SQL statements (string constants other than docstrings) and uses of a connection's
    ``execute`` outside ``engine/library/``."""
    docs = _docstrings()
    found = []
    for name, path in MODULES.items():
        if name.startswith("engine.library"):
            continue
        for node in ast.walk(TREES[name]):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                if SQL.search(node.value):
                    found.append(f"{path}:{node.lineno}: {node.value.strip()[:60]!r}")
            elif isinstance(node, ast.Attribute) and node.attr in ("execute", "executemany",
                                                                   "executescript", "connection"):
                found.append(f"{path}:{node.lineno}: .{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names():
    assert private_uses() == []


def test_no_import_cycles_between_modules():
    assert import_cycles() == []


def test_no_sql_outside_the_library_package():
    assert sql_outside_library() == []


def test_no_engine_file_is_over_600_lines():
    long = {str(p.relative_to(ROOT)): n for name, p in MODULES.items() if name.startswith("engine")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_ENGINE_LINES}
    assert long == {}


@pytest.mark.parametrize("package, forbidden", [("engine", ("desktop", "training", "benchmarks")),
                                                ("training", ("desktop", "benchmarks")),
                                                ("desktop", ("training", "benchmarks"))])
def test_layers_point_one_way(package, forbidden):
    bad = []
    for name, tree in TREES.items():
        if name.split(".")[0] != package:
            continue
        for node in ast.walk(tree):
            mods = []
            if isinstance(node, ast.ImportFrom):
                mods = [_resolve(name, node)]
            elif isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            bad += [f"{MODULES[name]}:{node.lineno}: {m}" for m in mods
                    if m.split(".")[0] in forbidden]
    assert bad == []


def test_the_checks_catch_what_they_look_for(tmp_path, monkeypatch):
    """Each check finds a planted violation (so an empty list means something)."""
    tree = ast.parse("from engine.tagger import _secret\nimport engine.tagger as t\nt._x\n"
                     "Q = 'SELECT id FROM tracks'\n")
    monkeypatch.setitem(MODULES, "engine.planted", ROOT / "engine" / "planted.py")
    monkeypatch.setitem(TREES, "engine.planted", tree)
    uses = private_uses()
    assert any("_secret" in u for u in uses) and any("t._x" in u for u in uses)
    assert any("planted" in s for s in sql_outside_library())
    cyc_a = ast.parse("from engine import planted_b\n")
    cyc_b = ast.parse("from engine import planted\n")
    monkeypatch.setitem(MODULES, "engine.planted_b", ROOT / "engine" / "planted_b.py")
    monkeypatch.setitem(TREES, "engine.planted", cyc_a)
    monkeypatch.setitem(TREES, "engine.planted_b", cyc_b)
    assert any("engine.planted_b" in c for c in import_cycles())


def test_public_functions_with_more_than_five_parameters_document_them():
    """numpydoc ``Parameters`` sections where a call has more than five (issue 13)."""
    missing = []
    for name, tree in TREES.items():
        if name.split(".")[0] not in ("engine", "training", "desktop"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                a = node.args
                params = [x for x in a.posonlyargs + a.args + a.kwonlyargs if x.arg not in ("self", "cls")]
                if len(params) > 5 and "Parameters" not in (ast.get_docstring(node) or ""):
                    missing.append(f"{MODULES[name]}:{node.lineno} {node.name}")
    assert missing == []
