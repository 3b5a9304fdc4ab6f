"""The layers of ``genlab.models``, checked: core <- parts <- families <- registry.

``core`` (base classes, capabilities, config bases, pixel-distribution and scale types,
sampling options) imports nothing else of ``models``; ``parts`` (likelihoods, backbones, the
U-Net, the diffusion process, the adversarial games) import core and parts; a family imports
core, parts and, of another family, only the classes it subclasses: its declared parents
(``class CVAE(VAE)``). Only ``registry`` and ``catalog`` name every family, and nothing
outside ``models`` imports a family module (tools ask for capabilities, not families).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "genlab"
MODELS = SRC / "models"
LAYERS = {"core": {"core"}, "parts": {"core", "parts"}, "families": {"core", "parts"}}
TOP = {"registry", "catalog", "__init__"}


def _dotted(path: Path) -> str:
    return ".".join(("genlab", *path.relative_to(SRC).with_suffix("").parts))


def _model_imports(tree: ast.AST) -> list[tuple[str, list[str]]]:
    """(module, names) of every ``from genlab.models.X import names`` (lazy ones included)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("genlab.models."):
                found.append((node.module, [a.asname or a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.startswith("genlab.models.")]
    return found


def _base_names(tree: ast.AST) -> set[str]:
    return {b.id for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
            for b in node.bases if isinstance(b, ast.Name)}


def _layer(module: str) -> str:
    return module.split(".")[2]


@pytest.mark.parametrize("path", sorted(MODELS.rglob("*.py")),
                         ids=lambda p: str(p.relative_to(MODELS)))
def test_a_model_module_imports_only_the_layers_below_it(path: Path) -> None:
    module = _dotted(path)
    layer = _layer(module) if module.count(".") > 2 else path.stem
    if layer in TOP:
        return
    assert layer in LAYERS, f"{module}: models/ holds core/, parts/, families/ and the registry"
    tree = ast.parse(path.read_text())
    bases = _base_names(tree)
    for imported, names in _model_imports(tree):
        target = _layer(imported)
        if target in LAYERS[layer]:
            continue
        if layer == "families" and target == "families" and names:
            # another family: only the classes this one subclasses (its declared parents)
            strays = sorted(set(names) - bases)
            assert not strays, (f"{module} takes {strays[0]} from the family {imported}: only "
                                "a parent class may come from another family; move shared "
                                "pieces to models/parts or models/core")
            continue
        pytest.fail(f"{module} ({layer}) imports {imported} ({target})")


def test_only_the_registry_names_families_outside_models() -> None:
    for path in sorted(SRC.rglob("*.py")):
        if path.is_relative_to(MODELS):
            continue
        for imported, _ in _model_imports(ast.parse(path.read_text())):
            assert not imported.startswith("genlab.models.families"), (
                f"{_dotted(path)} imports the family module {imported}: ask the model for a "
                "capability (models.core.capabilities) or look it up in models.registry")
