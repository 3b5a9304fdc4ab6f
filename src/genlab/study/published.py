"""A study folder's results page for the repository (``genlab results DIR --out FILE``): the
sections of ``results.json`` (the finished study) or, while it runs, those written so far."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from genlab.errors import ConfigError
from genlab.report.markdown import render_markdown
from genlab.report.records import ModelSection
from genlab.report.table import ModelPart
from genlab.study.provenance import read_sessions


def _folder(root: Path, section: ModelSection) -> Path:
    seeded = root / "models" / section.label / f"seed-{section.seed}"
    return seeded if (seeded / "section.json").is_file() else root / "models" / section.label


def study_parts(root: Path) -> tuple[list[ModelPart], bool]:
    """The study's sections in its order, and whether it finished (has ``results.json``)."""
    results = root / "results.json"
    if results.is_file():
        records = json.loads(results.read_text())["models"]
        sections = [ModelSection.from_json(r) for r in records]
        return [ModelPart(s, _folder(root, s)) for s in sections], True
    paths = sorted((root / "models").glob("**/section.json"), key=lambda p: p.stat().st_mtime)
    sections = [ModelSection.from_json(json.loads(p.read_text())) for p in paths]
    return [ModelPart(s, p.parent) for s, p in zip(sections, paths, strict=True)], False


def write_results_page(root: str | Path, out: str | Path, title: str | None = None) -> Path:
    """The Markdown page of study folder ``root`` at ``out`` (PNGs beside it)."""
    root = Path(root)
    if not (root / "study.yaml").is_file():
        raise ConfigError(f"{root} is not a study folder (no study.yaml; made by genlab study)")
    parts, complete = study_parts(root)
    if not parts:
        raise ConfigError(f"{root} holds no evaluated model yet")
    name = title or yaml.safe_load((root / "study.yaml").read_text()).get("name", root.name)
    return render_markdown(name, parts, Path(out), read_sessions(root), str(root), complete)
