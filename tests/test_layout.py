"""The package's layout: no import circle (imports inside functions count), no module over 500 lines, names spelled once.

Every module under ``bistlab/`` is parsed with :mod:`ast`; every ``import`` and ``from ... import`` statement at any
depth (module level, inside functions, under ``if TYPE_CHECKING``) is a dependency. ``import a.b`` depends on
``a.b``; ``from a import b`` depends on ``a.b`` when ``a/b.py`` is a module, else on ``a``. A package's
``__init__`` is the module named after the package.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "bistlab"


def _module_name(path: Path) -> str:
    """The dotted name of a source file under the repository root."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str, node: ast.ImportFrom, path: Path) -> str:
    """The absolute base module of a ``from`` import (relative ones resolved against ``name``)."""
    if not node.level:
        return node.module or ""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The package modules that one module imports, at any depth of its source."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, node, path)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (counting imports inside functions)."""
    modules = _modules()
    known = set(modules)
    return {name: set(_imports(name, path, known)) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` as a closed list of modules, or None when there is none."""
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if colour.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in colour and (found := visit(nxt)):
                return found
        stack.pop()
        colour[node] = 2
        return None

    for start in sorted(graph):
        if start not in colour and (found := visit(start)):
            return found
    return None


def test_no_import_circle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


# -- module length ------------------------------------------------------------------------------

MAX_LINES = 500


FLOORS = ("bistlab", "core", "data", "features", "models", "evaluation", "search", "report", "lstm", "runs", "api", "cli")
"""The package's folders from the ground up (docs/architecture.md); ``bistlab`` is its top-level modules (errors,
config, lazy). A module imports its own folder's modules and those of the folders below it."""

UPWARD = {
    ("bistlab.core.records", "bistlab.evaluation.metrics"): "a result record holds the split metrics it was written with",
    ("bistlab.core.records", "bistlab.evaluation.dirhit"): "an evaluation record applies today's usable rule to its holdout",
    ("bistlab.report.render", "bistlab.runs.notebooks"): "the cycle page is the report notebook, executed by papermill",
}
"""The imports that climb a floor, each with why; any other is a test failure."""


def _floor(module: str) -> int:
    parts = module.split(".")
    return FLOORS.index(parts[1]) if len(parts) >= 2 and parts[1] in FLOORS else 0


@pytest.mark.parametrize("folder", FLOORS[1:])
def test_every_folder_says_what_lives_there_and_what_it_may_import(folder: str) -> None:
    doc = ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text(encoding="utf-8"))) or ""
    assert doc and ("import" in doc.lower()), f"bistlab/{folder}/__init__.py must say what lives there and what it may import but got {doc!r}"


def test_no_import_climbs_a_floor_but_the_known_ones() -> None:
    graph = import_graph()
    upward = {(a, b) for a, targets in graph.items() for b in targets if _floor(b) > _floor(a)}
    assert upward <= set(UPWARD), f"imports that climb a floor: {sorted(upward - set(UPWARD))} (FLOORS: {FLOORS})"
    assert set(UPWARD) <= upward, f"no longer climbing, drop from UPWARD: {sorted(set(UPWARD) - upward)}"
    loose = sorted(m for m in _modules() if m.count(".") == 1 and m.split(".")[1] not in FLOORS)
    assert loose == ["bistlab.config", "bistlab.errors", "bistlab.lazy"], f"top-level modules must be errors, config and lazy but got {loose}"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_is_short(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines (at most {MAX_LINES})"


# -- names spelled once -------------------------------------------------------------------------

FILE_NAME = re.compile(r"[\w.{}<>-]+\.(json|db|pkl|html|csv|ipynb|lock|log|sqlite|bak|css|js)|STOP|mlruns")
"""A literal that names a file: ``best_params.json``, ``hyperopt_{}.html`` (an f-string's fields as ``{}``)."""

PACKAGE_FILES = {
    "index.html": "bistlab/api/static/index.html (the control page) is a file of the package, named as a task page",
    "{}.ipynb": "the package's notebook sources (bistlab.runs.notebooks) are named as their executed copies",
}
"""Names that a module other than the workspace's may spell: files of the package itself, not of a workspace."""

NAME_MODULE = "bistlab/core/names.py"
"""Where every study name is built and parsed."""


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            found.add(id(body[0].value))
        if isinstance(node, (ast.Module, ast.ClassDef)):  # attribute docstrings: a string after an assignment
            for before, after in zip(node.body, node.body[1:]):
                if isinstance(before, (ast.Assign, ast.AnnAssign)) and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
                    found.add(id(after.value))
    return found


def _literals(tree: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    """Every string the code spells (docstrings left out); an f-string with its fields as ``{}``."""
    skip = _docstrings(tree)
    inside_fstrings = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            yield "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values), node
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip | inside_fstrings:
            yield node.value, node


def _sources() -> Iterator[tuple[str, str, ast.AST]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        yield str(path.relative_to(ROOT)), text, ast.parse(text)


def test_every_file_name_is_spelled_in_one_module() -> None:
    where: dict[str, set[str]] = {}
    for module, _, tree in _sources():
        for text, _ in _literals(tree):
            if FILE_NAME.fullmatch(text):
                where.setdefault(text, set()).add(module)
    spread = {name: sorted(mods) for name, mods in where.items() if len(mods) > 1 and name not in PACKAGE_FILES}
    assert not spread, f"file names spelled in several modules: {spread}"
    assert {"state.json", "best_params.json", "evaluation.json", "results.json"} <= set(where)


def test_study_names_are_built_and_parsed_in_one_module() -> None:
    """A task's study name (``<KEY>_c<N>``) and a group's (``<study_name>_<group>``) are built and read
    back only by :mod:`bistlab.core.names`."""
    found = []
    for module, text, tree in _sources():
        if module == NAME_MODULE:
            continue
        for spelled, node in _literals(tree):
            segment = ast.get_source_segment(text, node) or ""
            group_name = isinstance(node, ast.JoinedStr) and re.search(r"study_name\W*\}_\{", segment)
            if group_name or re.search(r"_c(\{|\\d)", spelled):
                found.append(f"{module}:{node.lineno}: {segment}")
    assert not found, "study names spelled outside bistlab/core/names.py:\n" + "\n".join(found)
