"""The package's shape, read from its source with `ast`: imports flow one way (no cycles), `pruning/` is a
library that imports nothing above it, nothing imports the CLI, and modules and functions stay short enough
to read at once."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rac_bench"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every rac_bench module `path` imports, at the top or inside a function (both are edges of the graph)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("rac_bench"):
            names = {f"{node.module}.{alias.name}" for alias in node.names}
            found |= {name for name in names if name in modules} or {node.module}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("rac_bench")}
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        package_face = path.name == "__init__.py"
        graph[name] = {
            imported
            for imported in _imports(path, modules)
            if imported in modules and imported != name and not (package_face and imported.startswith(name + "."))
        }
    return graph


def test_no_import_cycle():
    graph = _graph()
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            assert state.get(imported) != "open", "import cycle: " + " -> ".join([*trail, module, imported])
            if imported not in state:
                visit(imported, [*trail, module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_pruning_is_a_library_and_nothing_imports_the_cli():
    for module, imported in _graph().items():
        if module.startswith("rac_bench.pruning"):
            outside = {i for i in imported if not i.startswith("rac_bench.pruning") and i != "rac_bench.errors"}
            assert not outside, f"{module} imports {outside}"
        assert "rac_bench.cli" not in imported, f"{module} imports the CLI"


def test_executors_are_chosen_by_the_cli_alone():
    importers = {m for m, imported in _graph().items() if any(i.startswith("rac_bench.executors") for i in imported)}
    assert importers <= {"rac_bench.cli", "rac_bench.commands"} | {m for m in importers if m.startswith("rac_bench.executors")}


def test_runner_and_functions_are_short():
    assert len((PACKAGE / "runner.py").read_text().splitlines()) <= 200
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60:
                long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert not long, long


def _package(module: str) -> str:
    """The package a module belongs to: `rac_bench.pruning.sweep` -> `rac_bench.pruning`; a top-level module is
    its own."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_two_packages_import_each_other():
    """Between packages too, imports flow one way: a package that imports another is not imported back by it (the
    generic scorer does not know the embedded task, the registry does not know the runner)."""
    edges = {
        (_package(module), _package(imported))
        for module, imports in _graph().items()
        for imported in imports
        if _package(module) != _package(imported)
    }
    both_ways = sorted({tuple(sorted(edge)) for edge in edges if edge[::-1] in edges})
    assert not both_ways, f"packages that import each other: {both_ways}"


def test_no_module_is_over_350_lines():
    lines = {str(path.relative_to(PACKAGE)): len(path.read_text().splitlines()) for path in PACKAGE.rglob("*.py")}
    long = {name for name, count in lines.items() if count > 350}
    assert not long, sorted(f"{name} ({lines[name]} lines)" for name in long)
