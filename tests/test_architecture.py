"""The import contract: the layers of docs/architecture.md, checked on every module's imports.

Every ``import`` statement of the package is read from the source (module level and inside
functions alike), so a lazy import that breaks a boundary is caught too. The rules:

- the core, the commands, the samples and the top-level modules never import Qt (PySide6,
  pyqtgraph, OpenGL) or ``ibviewer.gui``; ``ibviewer.cli`` may import ``ibviewer.gui`` only
  inside a function (to launch the window);
- the core never imports the commands or the CLI; the commands never import the CLI;
  the GUI never imports the CLI or the commands;
- views are leaves: a view never imports another view, the job hub (``gui.jobs``,
  ``gui.workers``), the controller, the menus, the window or the launcher; at run time it
  imports only ``gui.widgets``, ``gui.state``, ``gui.playback``, the core's definitions
  (``core.config``, ``core.naming``, ``core.types``) and ``errors`` (type annotations under
  ``TYPE_CHECKING`` may name core result types); widgets, the state and the playback model
  never import views or the layers above them;
- no two modules import each other at module level (import cycles).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ibviewer"
QT = ("PySide6", "pyqtgraph", "OpenGL", "shiboken6")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _submodule(prefix: str, name: str) -> str:
    candidate = f"{prefix}.{name}"
    parts = candidate.split(".")
    if parts[0] == "ibviewer" and (PACKAGE.parent.joinpath(*parts).with_suffix(".py").is_file() or PACKAGE.parent.joinpath(*parts).is_dir()):
        return candidate
    return prefix


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    """Ids of the nodes inside ``if TYPE_CHECKING:`` blocks (imports there exist for annotations only)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        test = getattr(node, "test", None)
        if isinstance(node, ast.If) and (
            (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
        ):
            inside |= {id(child) for statement in node.body for child in ast.walk(statement)}
    return inside


def _imports(path: Path, runtime_only: bool = False) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for every import in ``path`` (``runtime_only``: not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    typing_only = _type_checking_nodes(tree) if runtime_only else set()
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # `from package import submodule` imports the submodule; `from module import name` the module
            names = [_submodule(prefix, alias.name) for alias in node.names]
        else:
            continue
        found += [(name, id(node) in top_level) for name in names]  # imports under `if TYPE_CHECKING:` count as lazy
    return found


MODULES = {_module_name(path): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}
RUNTIME_IMPORTS = {_module_name(path): _imports(path, runtime_only=True) for path in sorted(PACKAGE.rglob("*.py"))}


def _is(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _layer(module: str) -> str:
    for layer in ("ibviewer.gui", "ibviewer.core", "ibviewer.commands", "ibviewer.samples"):
        if _is(module, layer):
            return layer
    return module  # ibviewer, ibviewer.cli, ibviewer.errors, ibviewer.models, ...


def test_the_package_was_found():
    assert "ibviewer.core.pipeline" in MODULES and "ibviewer.gui.main_window" in MODULES and len(MODULES) > 40


def test_nothing_outside_the_gui_imports_qt_or_the_gui():
    bad = {}
    for module, imports in MODULES.items():
        if _is(module, "ibviewer.gui"):
            continue
        found = [(name, top) for name, top in imports if _is(name, *QT, "ibviewer.gui")]
        if module == "ibviewer.cli":
            found = [(name, top) for name, top in found if top or _is(name, *QT)]  # launching the window lazily is its job
        if found:
            bad[module] = found
    assert not bad


FORBIDDEN = {
    "ibviewer.core": ("ibviewer.cli", "ibviewer.commands", "ibviewer.gui", "ibviewer.samples"),
    "ibviewer.commands": ("ibviewer.cli", "ibviewer.gui"),
    "ibviewer.samples": ("ibviewer.cli", "ibviewer.commands", "ibviewer.gui"),
    "ibviewer.gui": ("ibviewer.cli", "ibviewer.commands"),
}


def test_layers_only_import_downwards():
    bad = {}
    for module, imports in MODULES.items():
        forbidden = FORBIDDEN.get(_layer(module), ())
        found = sorted({name for name, _ in imports if _is(name, *forbidden)})
        if found:
            bad[module] = found
    assert not bad


# what a view (and the drawing code and state under it) must never reach
ABOVE_THE_VIEWS = (
    "ibviewer.gui.jobs",
    "ibviewer.gui.workers",
    "ibviewer.gui.controller",
    "ibviewer.gui.menus",
    "ibviewer.gui.main_window",
    "ibviewer.gui.app",
)
VIEW_MAY_IMPORT = (
    "ibviewer.gui.widgets",
    "ibviewer.gui.state",
    "ibviewer.gui.playback",
    "ibviewer.core.config",
    "ibviewer.core.naming",
    "ibviewer.core.types",
    "ibviewer.errors",
)


def _views() -> list[str]:
    return [module for module in MODULES if _is(module, "ibviewer.gui.views") and module != "ibviewer.gui.views"]


def test_the_views_were_found():
    assert {"ibviewer.gui.views.word_view", "ibviewer.gui.views.controls_panel"} <= set(_views())


def test_views_never_import_another_view_or_what_runs_jobs():
    bad = {}
    for module in _views():
        found = sorted({
            name for name, _ in MODULES[module]
            if _is(name, *ABOVE_THE_VIEWS) or (_is(name, "ibviewer.gui.views") and not _is(name, module))
        })  # fmt: skip
        if found:
            bad[module] = found
    assert not bad


def test_views_import_only_widgets_state_playback_and_core_definitions():
    bad = {}
    for module in _views():
        found = sorted({
            name for name, _ in RUNTIME_IMPORTS[module]
            if _is(name, "ibviewer") and name != "ibviewer" and not _is(name, *VIEW_MAY_IMPORT, module)
        })  # fmt: skip
        if found:
            bad[module] = found
    assert not bad


def test_widgets_state_and_playback_never_import_views_or_what_runs_jobs():
    bad = {}
    for module, imports in MODULES.items():
        if not _is(module, "ibviewer.gui.widgets", "ibviewer.gui.state", "ibviewer.gui.playback"):
            continue
        found = sorted({name for name, _ in imports if _is(name, "ibviewer.gui.views", *ABOVE_THE_VIEWS)})
        if found:
            bad[module] = found
    assert not bad


def test_no_module_level_import_cycles():
    graph = {
        module: {target for name, top in imports if top for target in MODULES if name == target and target != module}
        for module, imports in MODULES.items()
    }
    cycles = []

    def visit(node: str, path: list[str], on_path: set[str], done: set[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in on_path:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in done:
                on_path.add(nxt)
                visit(nxt, path + [nxt], on_path, done)
                on_path.discard(nxt)
        done.add(node)

    done: set[str] = set()
    for start in sorted(graph):
        if start not in done:
            visit(start, [start], {start}, done)
    assert not cycles, cycles
