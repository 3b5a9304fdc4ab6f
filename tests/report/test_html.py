"""The study page from synthetic section records: the table's marks, figures, notes, details."""

from __future__ import annotations

from html.parser import HTMLParser

from reportdata import BINARISED

from genlab.evaluation.registry import EIGHT_BIT
from genlab.report.html import details, method_notes, render_report


class Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.best: list[str] = []
        self.images = 0
        self._in_best = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        self._in_best = tag == "td" and "best" in (a.get("class") or "")
        self.images += tag == "img" and a["src"].startswith("data:image/png;base64,")

    def handle_data(self, data: str) -> None:
        if self._in_best and data.strip():
            self.best.append(data.strip())
            self._in_best = False


def test_the_page_embeds_every_figure_and_bolds_the_best(parts) -> None:
    page = render_report("t <study>", parts, ["n & notes"])
    assert "t &lt;study&gt;" in page and "n &amp; notes" in page  # escaped
    cells = Cells()
    cells.feed(page)
    assert cells.images == 6 and "5" in cells.best and "80" in cells.best  # glance + sections
    assert "-600" not in cells.best
    for scale in (BINARISED, EIGHT_BIT):  # each likelihood column names its scale
        assert f"<small class='scale'>{scale}</small>" in page
    assert "needs an encoder" in page and "src='samples.png'" not in page


def test_method_notes_say_how_the_numbers_were_made(parts) -> None:
    parts[0].section.evaluation["metrics"] = {
        "fid": {"samples": 100, "real": 200, "split": "test", "feature_space": "fid-x",
                "classifier_sha256": "abc"},
        "nll": {"images": 8, "split": "test", "nll_method": "k = 5", "binarize": "dynamic",
                "note": "discrete"},
    }
    notes = method_notes(parts[:1])
    assert any("100 samples against 200 real test images" in n and "fid-x" in n for n in notes)
    assert any(n.startswith("a: likelihood on 8 test images, k = 5") for n in notes)


def test_a_model_scored_on_other_counts_is_named_in_the_note(parts) -> None:
    fid = {"samples": 100, "real": 200, "split": "test", "feature_space": "fid-x",
           "classifier_sha256": "abc", "sampling": {}}
    parts[0].section.evaluation["metrics"] = {"fid": fid}
    parts[1].section.evaluation["metrics"] = {"fid": {**fid, "samples": 20, "real": 20,
                                                      "sampling": {"steps": 50, "eta": 0.0}}}
    note = next(n for n in method_notes(parts[:2]) if n.startswith("FID"))
    assert note.startswith("FID, KID, precision/recall, IS and confidence: 100 samples against "
                           "200 real test images, feature space fid-x")
    label = parts[1].section.label
    assert note.endswith(f"; {label}: 20 samples against 20 real test images (eta 0.0, "
                         "steps 50).")


def test_the_numbers_behind_perturbations_and_augmentation_are_tabulated() -> None:
    metrics = {
        "believability": {
            "perturb": {"sigmas": [0.5, 2.0], "mean_max_softmax": [0.91, 0.42]},
            "toward_class": {"source": "4", "target": "9", "alphas": [0.5, 1.0],
                             "target_accuracy": [0.25, 0.875], "mean_max_softmax": [0.6, 0.9]},
        },
        "augment": {"label_source": "conditional model", "fractions": [
            {"fraction": 0.2, "real_images": 200, "accuracy_real": 0.81,
             "accuracy_augmented": 0.84, "gain": 0.03}]},
    }
    page = details(metrics)
    for text in ("0.42", "class 4 toward class 9", "0.875", "labels: conditional model",
                 "0.84", "0.03"):
        assert text in page, text
    assert "centroid" not in page
    assert details({}) == ""


def test_the_kid_note_and_details_say_where_kid_stops_ranking(parts) -> None:
    kid = {"samples": 100, "real": 200, "split": "test", "feature_space": "fid-x",
           "classifier_sha256": "abc", "kid": 11.45, "kid_std": 1.2, "real_kid": 2.42,
           "kid_blank": 13.36}
    parts[0].section.evaluation["metrics"] = {"kid": kid}
    note = next(n for n in method_notes(parts[:1]) if n.startswith("kid: "))
    assert "kid_blank: samples whose features are all 0" in note
    assert "KID cannot rank them" in note and "compare such models by FID" in note
    page = details({"kid": kid})
    for text in ("KID against its reference points", "training images (floor)", "2.42",
                 "features all 0 (blank)", "13.36", "11.45"):
        assert text in page, text


def test_the_perturbation_note_says_which_scale_the_noise_is_on(parts) -> None:
    settings = {"images": 64, "sigmas": [0.5, 1.0], "source_class": "4", "target_class": "9",
                "alphas": [1.0], "centroid_images": 1000}
    notes = {}
    for scale, mean in (("relative", 0.0), ("absolute", 0.5)):
        parts[0].section.evaluation["metrics"] = {"believability": {"settings": {
            **settings, "sigma_scale": scale, "noise_mean": mean}}}
        notes[scale] = next(n for n in method_notes(parts[:1]) if n.startswith("Perturbations"))
    assert "in units of each code dimension's sd over 1000 training codes" in notes["relative"]
    assert "mean" not in notes["relative"]
    assert "in each model's own code units (absolute), mean 0.5" in notes["absolute"]
