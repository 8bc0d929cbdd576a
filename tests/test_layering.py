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
    assert importers <= {"rac_bench.cli"} | {m for m in importers if m.startswith("rac_bench.executors")}


def test_runner_and_functions_are_short():
    assert len((PACKAGE / "runner.py").read_text().splitlines()) <= 200
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60:
                long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert not long, long
