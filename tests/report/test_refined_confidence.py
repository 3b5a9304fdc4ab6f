"""The confidence figure, table and blend notes with refined moves (``perturbations.refine``):
each refinement level beside the plain moves, on synthetic section records."""

from __future__ import annotations

from reportdata import part

from genlab.report.markdown import _refined_calls
from genlab.report.perturbations import confidence_figure, confidence_table, levels
from genlab.report.table import rows

SETTINGS = {"images": 10, "sigmas": [0.5, 1.0], "alphas": [1.0], "source_class": "4",
            "target_class": "9", "refine": [0.3]}


def _blend(source: int, target: int) -> dict:
    counts = {"source": source, "target": target, "other": 10 - source - target}
    return {"weight": 0.6, "source": "4", "target": "9", "images": 10, "counts": counts,
            **{f"share_{k}": v / 10 for k, v in counts.items()}}


def _parts(tmp_path):
    refined = {"believability": {
        "recon_confidence": 0.9, "settings": SETTINGS,
        "perturb": {"sigmas": [0.5, 1.0], "mean_max_softmax": [0.6, 0.4],
                    "refined": [{"t_star": 0.3, "mean_max_softmax": [0.8, 0.7]}]},
        "blend": {**_blend(2, 1), "refined": [{"t_star": 0.3, **_blend(4, 3)}]}}}
    plain = {"believability": {
        "recon_confidence": 0.8, "settings": SETTINGS,
        "perturb": {"sigmas": [0.5, 1.0], "mean_max_softmax": [0.5, 0.3]},
        "blend": _blend(1, 1)}}
    return [part(tmp_path, "prior", {}, metrics=refined), part(tmp_path, "vae", {},
                                                               metrics=plain)]


def test_refined_moves_are_rows_lines_and_bars_beside_the_plain_ones(tmp_path) -> None:
    models = rows(_parts(tmp_path))
    assert levels(models) == [0.3]
    header, lines = confidence_table(models)
    assert header == ["model", "recon", "noise σ=0.5", "noise σ=1", "blend called 4",
                      "blend called 9", "blend called other"]
    by_model = {line[0]: line[1:] for line in lines}
    assert by_model["prior"] == ["0.9", "0.6", "0.4", "0.2", "0.1", "0.7"]
    assert by_model["prior refined t*=0.3"] == ["–", "0.8", "0.7", "0.4", "0.3", "0.3"]
    assert "vae refined t*=0.3" not in by_model  # a model whose moves were not refined
    fig = confidence_figure(models)
    assert fig is not None
    lines_drawn = {line.get_label(): list(line.get_ydata()) for line in fig.axes[0].lines}
    assert lines_drawn == {"prior": [0.6, 0.4], "prior t*=0.3": [0.8, 0.7], "vae": [0.5, 0.3]}
    assert fig.axes[0].lines[1].get_linestyle() == "--"
    names = [t.get_text() for t in fig.axes[3].get_xticklabels()]
    assert names == ["prior", "prior refined t*=0.3", "vae"]
    bars = [round(p.get_height(), 6) for p in fig.axes[3].patches[:3]]
    assert bars == [0.2, 0.4, 0.1]  # the source-class share of each bar


def test_the_markdown_blend_note_gives_the_refined_calls() -> None:
    found = {**_blend(2, 1), "refined": [{"t_star": 0.3, **_blend(4, 3)}]}
    assert _refined_calls(found) == "; refined at t* = 0.3: 4, 3 and 3"
    assert _refined_calls(_blend(2, 1)) == ""
