"""The package's architecture, enforced: layers whose imports point down only, no cycles, small modules.

Every ``import`` of every module counts, function-level ones included (a lazy
import is still a dependency).  Layers, bottom up::

    errors, __init__  <-  core  <-  models  <-  measure  <-  gate  <-  report  <-  plugin
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pytest_embedeval"
LAYERS = ("", "core", "models", "measure", "gate", "report", "plugin")  # "": the package root modules
MAX_LINES, MAX_ENTRY_LINES = 400, 200


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = ["pytest_embedeval", *path.relative_to(package).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules_of(package: Path) -> dict[str, Path]:
    return {module_name(path, package): path for path in package.rglob("*.py")}


MODULES = modules_of(PACKAGE)


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else 0


def imports(module: str, modules: dict[str, Path] = MODULES) -> set[str]:
    """The package's modules that ``module`` imports, anywhere in its body."""
    path = modules[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level \
                else node.module or ""
            # "from package import module" depends on the module; "from module import name" on the module
            names = {f"{base}.{alias.name}" for alias in node.names}
            found |= {name for name in names if name in modules} or {base}
            if any(name not in modules for name in names):
                found.add(base)
    return {name for name in found if name in modules and name != module}


def upward_imports(module: str, modules: dict[str, Path] = MODULES) -> list[str]:
    return sorted(name for name in imports(module, modules) if layer(name) > layer(module))


def imports_pytest(module: str) -> bool:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    return any(isinstance(node, ast.Import) and any(a.name.split(".")[0] == "pytest" for a in node.names)
               or isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "pytest"
               for node in ast.walk(tree))


def test_the_walk_sees_the_whole_package() -> None:
    assert {"pytest_embedeval.plugin", "pytest_embedeval.gate.judge", "pytest_embedeval.core.atomic"} <= set(MODULES)
    assert "pytest_embedeval.models.targets" in imports("pytest_embedeval.gate.verdict")
    assert "pytest_embedeval.models.zoo" in imports("pytest_embedeval.models.targets")  # "from package import module"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    upward = upward_imports(module)
    assert not upward, f"{module} (layer {LAYERS[layer(module)] or 'root'}) imports a higher layer: {upward}"


def test_no_import_cycles() -> None:
    graph = {module: imports(module) for module in MODULES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dependency in sorted(graph[module]):
            if state.get(dependency) == 1:
                cycle = path[path.index(dependency):] + [module, dependency]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dependency not in state:
                visit(dependency, [*path, module])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_only_the_plugin_layer_imports_pytest() -> None:
    outside = sorted(m for m in MODULES if imports_pytest(m) and layer(m) != LAYERS.index("plugin")
                     and ".suites" not in m)
    assert outside == []


def test_modules_stay_small() -> None:
    sizes = {module: len(path.read_text(encoding="utf-8").splitlines()) for module, path in MODULES.items()}
    assert {m: n for m, n in sizes.items() if n > MAX_LINES} == {}
    assert sizes["pytest_embedeval.plugin"] < MAX_ENTRY_LINES


def test_a_planted_upward_import_would_be_caught(tmp_path: Path) -> None:
    """The check itself can fail: in a copy of the package, core/atomic.py gets an upward import at the top
    and core/lock.py one inside a function (a lazy import is still a dependency); the walk finds both."""
    copy = tmp_path / "pytest_embedeval"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    atomic, lock = copy / "core" / "atomic.py", copy / "core" / "lock.py"
    atomic.write_text(atomic.read_text(encoding="utf-8") + "\nfrom pytest_embedeval.plugin import hooks\n",
                      encoding="utf-8")
    lock.write_text(lock.read_text(encoding="utf-8") + "\n\ndef _planted():\n"
                    "    from pytest_embedeval.report.tables import Table\n", encoding="utf-8")
    planted = modules_of(copy)
    assert upward_imports("pytest_embedeval.core.atomic", planted) == ["pytest_embedeval.plugin.hooks"]
    assert upward_imports("pytest_embedeval.core.lock", planted) == ["pytest_embedeval.report.tables"]
    assert upward_imports("pytest_embedeval.core.atomic") == []  # the real package is untouched
