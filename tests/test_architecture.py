"""The shape of the code, checked: dependency direction, file and function sizes.

The rules are those of docs/architecture.md: cli -> everything; latent/evaluation -> runs ->
training (configs, checkpoints) -> models -> nets; data and io sit at the bottom and import
nothing of genlab beyond io.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "genlab"
MAX_FILE_LINES = 350
MAX_FUNCTION_LINES = 60

BOTTOM = {"errors", "io", "progress", "version"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "io": set(),
    "progress": set(),
    "version": set(),
    "devices": {"errors"},
    "data": {"io"},
    "models": {"errors", "io"},
    "figures": {"io"},
    "training": BOTTOM | {"data", "devices", "models", "figures"},
    "runs": BOTTOM | {"data", "devices", "models", "training"},
    "latent": BOTTOM | {"data", "models", "runs"},
    "evaluation": BOTTOM | {"data", "devices", "models", "runs", "latent"},
    "report": BOTTOM | {"data", "models", "runs", "latent", "evaluation", "figures"},
    "study": BOTTOM | {"data", "models", "runs", "training", "latent", "evaluation", "report",
                       "figures"},
    "explore": BOTTOM | {"data", "devices", "models", "runs", "latent", "evaluation", "report",
                         "figures"},
    "cli": None,  # the front end may import everything
    "__init__": {"version", "training", "runs"},
    "__main__": {"cli"},
}
"""genlab package -> the genlab packages it may import (None: any)."""


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _package(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return parts[0]


def _imported_packages(tree: ast.AST) -> set[str]:
    """Top-level genlab packages imported anywhere in a module (lazy imports included)."""
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "genlab" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_dependencies_point_one_way(path: Path) -> None:
    package = _package(path)
    assert package in ALLOWED, f"{package} has no dependency rule: add it to ALLOWED and docs"
    allowed = ALLOWED[package]
    if allowed is None:
        return
    imported = _imported_packages(ast.parse(path.read_text())) - {package}
    # Names that are modules of the package itself when imported as ``from genlab import x``.
    wrong = sorted(imported - allowed - {"__version__"})
    assert not wrong, f"{path.relative_to(SRC)} ({package}) imports genlab.{wrong[0]}"


def test_the_allowed_dependencies_have_no_cycle() -> None:
    """No package may reach itself through the packages it may import (a training -> report
    -> evaluation -> runs -> training loop was once allowed by exception)."""
    def reach(package: str, seen: tuple[str, ...]) -> None:
        for other in ALLOWED.get(package) or set():
            assert other not in seen, " -> ".join((*seen, other))
            reach(other, (*seen, other))

    for package, allowed in ALLOWED.items():
        if allowed is not None:
            reach(package, (package,))


def test_nothing_but_the_cli_imports_the_cli() -> None:
    for path in _modules():
        if _package(path) in ("cli", "__main__"):
            continue
        assert "cli" not in _imported_packages(ast.parse(path.read_text())), path


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_files_and_functions_stay_small(path: Path) -> None:
    text = path.read_text()
    lines = text.count("\n") + 1
    assert lines <= MAX_FILE_LINES, f"{path.relative_to(SRC)} has {lines} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, (
                f"{path.relative_to(SRC)}:{node.lineno} {node.name} has {length} lines"
            )
