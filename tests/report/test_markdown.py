"""The Markdown results page and the classifier-confidence figure and table, on synthetic
section records."""

from __future__ import annotations

from pathlib import Path

import torch
from reportdata import BINARISED, part, scaled_parts

from genlab.evaluation.registry import EIGHT_BIT
from genlab.figures.images import save_image_grid
from genlab.report.markdown import render_markdown, wall_time
from genlab.report.perturbations import baseline, confidence_figure, confidence_table
from genlab.report.records import Figure
from genlab.report.table import rows

MOVED_SETTINGS = {"images": 10, "sigmas": [0.5, 1.0], "alphas": [0.5, 1.0],
                  "source_class": "horse", "target_class": "bird"}
MOVED = {"believability": {
    "recon_confidence": 0.9, "settings": MOVED_SETTINGS,
    "perturb": {"sigmas": [0.5, 1.0], "mean_max_softmax": [0.8, 0.6]},
    "toward_class": {"alphas": [0.5, 1.0], "target": "bird", "source": "horse",
                     "target_accuracy": [0.3, 0.9], "mean_max_softmax": [0.7, 0.9]},
    "centroid": {"alphas": [0.5, 1.0], "mean_max_softmax": [0.9, 0.7]}}}
SESSION = {"command": "genlab study configs/study_demo.yaml --out runs/demo", "seconds": 5400.0,
           "started": "2026-12-01 00:00:00 UTC", "ended": "2026-12-01 01:30:00 UTC",
           "genlab": "0.2.0", "torch": "2.13.0", "python": "3.11.7", "cpu": "Xeon", "cpus": 2,
           "torch_threads": 1, "gpu": None}


def _blend(source: float, target: float) -> dict:
    counts = {"source": round(10 * source), "target": round(10 * target)}
    counts["other"] = 10 - counts["source"] - counts["target"]
    return {"weight": 0.6, "source": "horse", "target": "bird", "images": 10, "counts": counts,
            "share_source": source, "share_target": target,
            "share_other": round(1 - source - target, 6)}


SCORED = {"samples": 100, "real": 100, "split": "test", "feature_space": "fid-x",
          "classifier_sha256": "abc", "sampling": {}}
"""What every FID record says of how it was made."""


def _parts(tmp_path: Path):
    mean = part(tmp_path, "mean", {"fid": 300.0, "recon_confidence": 0.6},
                metrics={"believability": {"recon_confidence": 0.6, "settings": MOVED_SETTINGS},
                         "fid": {"fid": 300.0, "real_fid": 2.5, **SCORED}})
    mean.section.run["latent_space"] = None  # what a model without a decoder records
    vae = [part(tmp_path, "vae", {"fid": f, "nll_nats": n}, BINARISED,
                seed=s, metrics={"believability": {**MOVED["believability"], "blend": b},
                                 "fid": {"fid": f, "real_fid": 2.5, **SCORED}})
           for s, (f, n, b) in enumerate([(50.0, 90.0, _blend(0.5, 0.2)),
                                          (54.0, 91.0, _blend(0.3, 0.4))])]
    for p in vae:  # the first seed's blend figure goes on the page
        save_image_grid(torch.rand(4, 3, 8, 8), p.folder / "blend.png")
        p.section.figures.append(Figure("blend", "blends", "blend.png"))
    gan = part(tmp_path, "gan", {"fid": 40.0},
               metrics={"fid": {"fid": 40.0, "real_fid": 2.5, **SCORED}})
    return [mean, *vae, gan]


def test_the_confidence_table_averages_seeds_and_names_the_target(tmp_path) -> None:
    header, lines = confidence_table(rows(_parts(tmp_path)))
    assert header == ["model", "recon", "noise σ=0.5", "noise σ=1", "share bird at α=0.5",
                      "share bird at α=1", "→centroid α=0.5", "→centroid α=1",
                      "blend called horse", "blend called bird", "blend called other"]
    by_model = {line[0]: line[1:] for line in lines}
    # the blend shares are the means over the two seeds: (0.5 + 0.3) / 2, (0.2 + 0.4) / 2
    assert by_model["vae"] == ["0.9", "0.8", "0.6", "0.3", "0.9", "0.9", "0.7", "0.4", "0.3",
                               "0.3"]
    assert by_model["mean"] == ["0.6"] + ["–"] * 9
    fig = confidence_figure(rows(_parts(tmp_path)))
    assert fig is not None and len(fig.axes) == 4
    bars = [round(p.get_height(), 6) for p in fig.axes[3].patches]
    assert bars == [0.4, 0.3, 0.3]  # one model with blends: source, target, other
    assert "0.6·horse" in fig.axes[3].get_title()
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels == ["vae", "mean (no codes)"]  # the baseline: the class means' confidence


def test_the_baseline_is_the_model_without_codes_whatever_its_name(tmp_path) -> None:
    parts = _parts(tmp_path)
    mean, vae = parts[0], parts[1]
    assert baseline(rows(parts)) == ("mean", 0.6)
    mean.section.run.update(model="class-prototypes", latent_space=None)
    assert baseline(rows(parts)) == ("mean", 0.6)  # the record's declaration, not the name
    mean.section.run.update(model="mean", latent_space="continuous (4,)")
    assert baseline(rows(parts)) is None  # named "mean", but it has codes to move
    del mean.section.run["latent_space"]
    assert baseline(rows(parts)) is None  # a record that declares nothing is not a baseline
    vae.section.run["latent_space"] = None  # reconstructs, no codes: its confidence is the line
    assert baseline(rows(parts)) == ("vae", 0.9)


def test_the_page_has_grouped_tables_the_floor_figures_and_provenance(tmp_path) -> None:
    out = render_markdown("demo", _parts(tmp_path), tmp_path / "docs" / "demo.md", [SESSION],
                          "runs/demo")
    text = out.read_text()
    assert f"### likelihood: {BINARISED}" in text and "### samples" in text
    assert "| vae | vae | – | 1.5 | 52 ± 2.8 |" in text  # mean ± sd over the two seeds
    assert "**40**" in text  # the best FID in bold
    assert "| *real train images* | reference | | | 2.5 |" in text
    assert "- Command: `genlab study configs/study_demo.yaml --out runs/demo`" in text
    assert "Wall time of the recorded sessions: 1.50 h over 1 session(s)" in text
    assert "2 CPUs" in text
    assert ("- FID, KID, precision/recall, IS and confidence: 100 samples against 100 real "
            "test images, feature space fid-x (classifier abc).") in text  # the page's notes
    assets = tmp_path / "docs" / "demo"
    assert {p.name for p in assets.iterdir()} == {"confidence.png", "mean-samples.png",
                                                   "vae-samples.png", "gan-samples.png",
                                                   "vae-blend.png"}
    assert "![vae samples](demo/vae-samples.png)" in text
    assert "## Blends of the two classes' codes" in text
    assert "![vae blend](demo/vae-blend.png)" in text
    assert ("of 10 blends w = 0.6 of horse and bird, the classifier calls 5 horse, 2 bird and 3 "
            "another class") in text
    again = render_markdown("demo", _parts(tmp_path)[:1], tmp_path / "docs" / "demo.md", [],
                            "runs/demo", complete=False)
    assert not (assets / "vae-samples.png").exists()  # the folder is the page's alone
    assert "has not finished" in again.read_text()


def _section(text: str, title: str) -> list[str]:
    """The table rows under the heading ``### title``."""
    block = text.split(f"### {title}\n\n", 1)[1].split("\n\n", 1)[0]
    return block.splitlines()[2:]


def test_a_likelihood_has_a_table_per_scale_and_a_best_in_each(tmp_path) -> None:
    text = render_markdown("demo", scaled_parts(tmp_path), tmp_path / "demo.md", [],
                           "runs/demo").read_text()
    eight = _section(text, f"likelihood: {EIGHT_BIT}")
    assert [r.split(" | ")[0] for r in eight] == ["| flow", "| ddpm"]
    assert eight[0].endswith("| **1.668** |") and eight[1].endswith("| 2.425 |")
    binarised = _section(text, f"likelihood: {BINARISED}")
    assert [r.split(" | ")[0] for r in binarised] == ["| vae", "| cvae"]
    assert binarised[1].endswith("| **88.03** | **93.5** |")
    crossed = _section(text, "likelihood: cross-entropy, binarisation none")
    assert crossed[1].endswith("| **-40.25** |") and "**" not in crossed[0]
    assert "3441" not in text and text.count("**") == 2 * 4  # one best per column


def test_overlapping_sessions_count_once_in_the_wall_time() -> None:
    """Two processes on one study folder from 00:00-01:00 and 00:30-02:00, then one more from
    03:00-03:30: 2.5 hours of wall time, two at once at most."""
    day = "2026-12-01"
    spans = [("00:00:00", "01:00:00"), ("00:30:00", "02:00:00"), ("03:00:00", "03:30:00")]
    sessions = [{"started": f"{day} {a} UTC", "ended": f"{day} {b} UTC"} for a, b in spans]
    assert wall_time(sessions) == (2.5 * 3600, 2)
    assert wall_time(sessions[:1]) == (3600, 1)
