"""The page's first screen: samples side by side, quality against likelihood, curves."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

from PIL import Image
from reportdata import part, scaled_parts

from genlab.evaluation.registry import EIGHT_BIT, REGISTRY
from genlab.report.overview import curve_figures, glance, objectives, plotted, quality_figure
from genlab.report.table import ModelPart, rows


def decoded(uri: str) -> Image.Image:
    assert uri.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def history(run_dir: Path, key: str, values: list[float]) -> str:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics.jsonl").write_text("".join(
        json.dumps({"epoch": e, key: v}) + "\n" for e, v in enumerate(values, 1)))
    return str(run_dir)


def test_each_run_names_its_objectives() -> None:
    assert objectives([{"val/loss": 1, "val/neg_elbo": 1}]) == {"−ELBO (nats)": "val/neg_elbo"}
    gan = [{"val/loss": 1, "val/loss.generator": 1, "val/loss.discriminator": 2}]
    assert objectives(gan) == {"discriminator loss": "val/loss.discriminator",
                               "generator loss": "val/loss.generator"}
    assert objectives([{"val/loss": 1}]) == {"loss": "val/loss"} and objectives([]) == {}


def test_samples_side_by_side_in_model_order_then_the_figures(tmp_path: Path) -> None:
    scale = "discrete pixels, binarisation dynamic"
    parts: list[ModelPart] = []
    for label, fid, nll in (("vae", 20.0, 90.0), ("cvae", 15.0, 85.0)):
        for seed in (0, 1):
            p = part(tmp_path, label, {"fid": fid + seed, "nll_nats": nll - seed,
                                       "precision": 0.5, "recall": 0.4 + seed / 10},
                     scale, seed=seed)
            p.section.run_dir = history(tmp_path / "runs" / f"{label}{seed}", "val/neg_elbo",
                                        [nll + 30, nll + 10, nll])
            parts.append(p)
    models = rows(parts)
    page = glance(models, lambda path: f"file:{path.parent.name}")
    assert page.index("samples of vae") < page.index("samples of cvae")
    assert page.count("<figure>") == 2 and "src='file:0'" in page  # the first seed's grid
    assert "FID 20.5" in page
    figure = quality_figure(models)
    assert figure is not None and decoded(figure).size[0] > 600  # two panels: FID/NLL, P/R
    curves = curve_figures(models)
    assert [name for name, _ in curves] == ["−ELBO (nats)"]
    assert decoded(curves[0][1]).size[1] > 200


def test_without_shared_numbers_there_is_no_quality_figure(parts) -> None:
    assert quality_figure(rows(parts)) is None  # the two NLLs are on different scales
    assert curve_figures(rows(parts)) == []  # no run directories


def test_the_declared_plots_take_the_likelihood_scale_most_models_share(tmp_path) -> None:
    parts = scaled_parts(tmp_path)
    for p, fid in zip(parts, (30.0, 20.0, 50.0, 40.0, 60.0, 70.0), strict=True):
        p.section.summary["fid"] = fid
    parts[2].section.summary["fid"] = None  # two 8-bit models with a FID, one binarised
    x, y, title = plotted(rows(parts), REGISTRY["fid"].plots[0])
    assert (x.key, x.scale, y.key) == ("nll_8bit_bpd", EIGHT_BIT, "fid")
    assert title == f"sample quality against likelihood (likelihood scale: {EIGHT_BIT})"
    assert plotted(rows(parts), REGISTRY["pr"].plots[0]) is None  # no precision or recall
