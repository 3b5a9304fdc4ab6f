"""``--classifier inception``: the optional torch-fidelity feature space, and its errors.

torch-fidelity is an optional extra that is not installed here (it pulls torchvision); a
stand-in module with its class name and signature checks what genlab passes it (uint8, three
channels) and that every sample metric runs in its features.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import ClassVar

import pytest
import torch

from genlab.evaluation import evaluate as ev
from genlab.runs import open_run


class FakeInception(torch.nn.Module):
    """Takes uint8 (N, 3, H, W) like torch-fidelity's network; features are pixel statistics."""

    calls: ClassVar[list[tuple[str, list[str], str | None]]] = []

    def __init__(self, name: str, features_list: list[str],
                 feature_extractor_weights_path: str | None = None) -> None:
        super().__init__()
        FakeInception.calls.append((name, features_list, feature_extractor_weights_path))
        if feature_extractor_weights_path is None:
            raise OSError("URL unreachable")  # offline: the download fails
        self.proj = torch.nn.Linear(3 * 28 * 28, 16)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assert x.dtype == torch.uint8 and x.shape[1] == 3
        f = self.proj(x.float().flatten(1) / 255)
        return f, f[:, :8]


@pytest.fixture
def fake_fidelity(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("torch_fidelity.feature_extractor_inceptionv3")
    module.FeatureExtractorInceptionV3 = FakeInception  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch_fidelity", types.ModuleType("torch_fidelity"))
    monkeypatch.setitem(sys.modules, "torch_fidelity.feature_extractor_inceptionv3", module)


def test_without_the_extra_the_metrics_say_how_to_install_it(runs, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)
    result = ev.evaluate_run(open_run(runs["vae"]), metrics=["fid", "kid"], n=20,
                             classifier="inception")
    assert result["metrics"] == {}
    assert "pip install 'genlab[inception]'" in result["skipped"]["fid"]


def test_with_local_weights_every_sample_metric_runs_in_its_features(
        runs, fake_fidelity, tmp_path: Path) -> None:
    weights = tmp_path / "inception.pth"
    weights.write_bytes(b"weights")
    torch.manual_seed(0)
    result = ev.evaluate_run(open_run(runs["vae"]),
                             metrics=["fid", "kid", "pr", "is", "confidence"], n=40,
                             classifier="inception", inception_weights=weights)
    assert result["skipped"] == {}
    fid = result["metrics"]["fid"]
    assert fid["feature_space"] == "fid-inception" and fid["fid"] > 0
    assert FakeInception.calls[-1] == ("inception-v3-compat", ["2048", "logits_unbiased"],
                                       str(weights))
    assert 1 <= result["metrics"]["is"]["is"] <= 8


def test_offline_without_weights_or_with_a_missing_file_says_which(runs, fake_fidelity,
                                                                    tmp_path: Path) -> None:
    run = open_run(runs["vae"])
    offline = ev.evaluate_run(run, metrics=["fid"], n=20, classifier="inception")["skipped"]["fid"]
    assert "torch-fidelity's download" in offline and "--inception-weights" in offline
    missing = ev.evaluate_run(run, metrics=["fid"], n=20, classifier="inception",
                              inception_weights=tmp_path / "none.pth")["skipped"]["fid"]
    assert "none.pth does not exist" in missing


def test_inception_cannot_label_generated_digits(runs, fake_fidelity, tmp_path: Path) -> None:
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"w")
    result = ev.evaluate_run(open_run(runs["vae"]), metrics=["augment"], classifier="inception",
                             inception_weights=weights)
    assert "needs a classifier of the dataset's classes" in result["skipped"]["augment"]
