"""The packages import one way: ``knowledge_graphs`` (the class-graph library) imports nothing
of ``iterative_reasoning``, and no module imports, directly or through others, a module that
imports it back. Imports inside functions count (they hide the layering, not remove it);
imports under ``TYPE_CHECKING`` do not (they never run). Importing a module imports the packages
above it (their ``__init__`` runs first), so those count too."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("iterative_reasoning", "knowledge_graphs")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``name`` imports (the longest known prefix of each import)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                candidates = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parent = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*parent, *([child.module] if child.module else [])])
                candidates = [f"{base}.{a.name}" for a in child.names] + [base]
            else:
                visit(child)
                continue
            for candidate in candidates:
                while candidate and candidate not in known:
                    candidate = candidate.rpartition(".")[0]
                # importing a.b.c runs the package a.b's __init__ first (a package's root is
                # set apart: every import of the package runs it before anything else)
                while candidate.count("."):
                    if candidate != name and not name.startswith(candidate + "."):
                        targets.add(candidate)
                    candidate = candidate.rpartition(".")[0]

    visit(ast.parse(path.read_text()))
    return targets


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
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
            strong(v)
    return found


def test_the_class_graph_library_imports_nothing_of_the_reasoning_package():
    upward = {
        (name, target)
        for name, targets in _graph().items()
        if name.startswith("knowledge_graphs")
        for target in targets
        if target.startswith("iterative_reasoning")
    }
    assert upward == set(), "knowledge_graphs imports iterative_reasoning"


def test_no_module_imports_itself_through_others():
    assert _cycles(_graph()) == []


def test_the_checker_finds_a_circle_and_an_upward_import(tmp_path):
    """The two checks above can fail: a planted circle and a planted upward import are found."""
    graph = _graph()
    graph["iterative_reasoning.data.synthetic.easy"].add("iterative_reasoning.data.synthetic.hard")
    assert any("iterative_reasoning.data.synthetic.hard" in c for c in _cycles(graph))
    known = set(_modules())
    planted = ast.parse("def f():\n    from iterative_reasoning.graph import ClassRelations\n")
    path = ROOT / "knowledge_graphs" / "class_graph.py"
    tree_text = path.read_text() + "\n" + ast.unparse(planted) + "\n"
    fake = tmp_path / "class_graph.py"
    fake.write_text(tree_text)
    assert "iterative_reasoning.graph" in _imports("knowledge_graphs.class_graph", fake, known)


def _imports_inside_functions() -> list[str]:
    """The package imports made inside a function (module, line, imported module)."""
    found = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                modules = []
                if isinstance(inner, ast.ImportFrom):
                    modules = [inner.module or ""] if not inner.level else ["(relative)"]
                elif isinstance(inner, ast.Import):
                    modules = [a.name for a in inner.names]
                for module in modules:
                    if module == "(relative)" or module.split(".")[0] in PACKAGES:
                        found.append(f"{name}:{inner.lineno} imports {module}")
    return found


def test_package_imports_sit_at_the_top_of_their_module():
    """Imports inside functions hide the layering: only optional third-party packages are
    imported there."""
    assert _imports_inside_functions() == []


def test_the_checker_finds_an_import_inside_a_function(tmp_path, monkeypatch):
    fake = tmp_path / "fake.py"
    fake.write_text("import torch\n\n\ndef f():\n    from knowledge_graphs import files\n")
    monkeypatch.setitem(globals(), "_modules", lambda: {"fake": fake})
    assert _imports_inside_functions() == ["fake:5 imports knowledge_graphs"]
