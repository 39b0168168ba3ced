"""The package's layers point one way (docs/architecture.md), with no import cycles and rwmu imports at the top.

Layers, bottom to top: base (errors, version, utils) -> data -> models -> tasks -> envs (imagination, MuJoCo,
scripted controllers) -> training -> recipes -> evaluation -> experiments -> api (the Python API) -> cli. A module may import its own layer and the
ones below it. The graph is read from the source with ``ast``, so imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "version", "utils"),
    ("data",),
    ("models",),
    ("tasks",),
    ("envs", "sim", "behavior"),
    ("training",),
    ("recipes",),
    ("evaluation",),
    ("experiments",),
    ("api",),
    ("cli",),
)
LAYER_OF = {part: level for level, parts in enumerate(LAYERS) for part in parts}
# The package root re-exports a few functions lazily: importing any submodule runs it, so it imports nothing eagerly.
ROOT = "rwmu"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str | None:
    if node.level == 0:
        return node.module
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def rwmu_imports(path: Path, module: str | None = None) -> list[tuple[str, int, bool]]:
    """``(imported module, line, at module top)`` for every import of an rwmu module in ``path``."""
    module = module or module_name(path)
    tree = ast.parse(path.read_text(), filename=str(path))
    top_level = {id(node) for node in tree.body}
    type_checking = set()
    for node in tree.body:  # ``if TYPE_CHECKING:`` blocks are annotations only
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_checking.update(id(n) for n in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if id(node) in type_checking:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, node, path.name == "__init__.py")
            names = [target] if target else []
        else:
            continue
        for name in names:
            if name == ROOT or name.startswith(ROOT + "."):
                found.append((name, node.lineno, id(node) in top_level))
    return found


def layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYER_OF.get(parts[1]) if len(parts) > 1 else None


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((SRC / ROOT).rglob("*.py"))}


def test_every_subpackage_has_a_layer():
    missing = sorted({m.split(".")[1] for m in all_modules() if m != ROOT} - set(LAYER_OF))
    assert not missing, f"add these to LAYERS (and docs/architecture.md): {missing}"


def test_no_upward_imports():
    upward = []
    for module, path in all_modules().items():
        if module == ROOT:
            continue
        for target, line, _ in rwmu_imports(path):
            if target == ROOT:
                upward.append(f"{path.relative_to(SRC)}:{line} imports the package root {ROOT}")
            elif layer(target) is not None and layer(target) > layer(module):
                upward.append(
                    f"{path.relative_to(SRC)}:{line} ({LAYERS[layer(module)][0]}) imports {target} "
                    f"({LAYERS[layer(target)][0]})"
                )
    assert not upward, "\n".join(upward)


def test_rwmu_imports_are_at_the_top_of_files():
    inner = [
        f"{path.relative_to(SRC)}:{line} imports {target} inside a function"
        for module, path in all_modules().items()
        if module != ROOT
        for target, line, at_top in rwmu_imports(path)
        if not at_top
    ]
    assert not inner, "\n".join(inner)


def test_no_import_cycles():
    modules = all_modules()
    graph = {m: sorted({t for t, _, _ in rwmu_imports(p) if t in modules and t != m}) for m, p in modules.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in graph:
        if start not in state and (cycle := visit(start)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_the_checker_sees_upward_relative_and_local_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from ..training import policy\n\n\ndef f():\n    import rwmu.cli.main\n")
    found = rwmu_imports(probe, module="rwmu.data.probe")
    assert found == [("rwmu.training", 1, True), ("rwmu.cli.main", 5, False)]
    assert all(layer(target) > layer("rwmu.data.probe") for target, _, _ in found)
