"""``genlab study`` and ``genlab report`` from the command line: errors, and a real page."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from genlab.cli.main import main
from genlab.data.dataset import MNIST_CLASSES
from genlab.evaluation.classifier import ClassifierConfig, ClassifierNet, save_classifier


def test_a_missing_study_file_is_one_line_and_writes_nothing(tmp_path: Path, capsys) -> None:
    assert main(["study", str(tmp_path / "none.yaml"), "--out", str(tmp_path / "s")]) == 2
    assert "none.yaml does not exist" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_an_unknown_study_key_is_named(tmp_path: Path, capsys) -> None:
    (tmp_path / "s.yaml").write_text("models: [{label: m, config: {model: {name: mean}}}]\n"
                                     "figure: {}\n")
    assert main(["study", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out")]) == 2
    assert "unknown key figure" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_report_of_a_run_that_does_not_exist_writes_no_page(tmp_path: Path, capsys) -> None:
    page = tmp_path / "r.html"
    assert main(["report", str(tmp_path / "nothing"), "--out", str(page)]) == 2
    assert "nothing" in capsys.readouterr().err and not page.exists()


@pytest.mark.slow
def test_report_of_existing_runs_is_one_self_contained_page(tiny_vae: str, tmp_path: Path,
                                                            capsys) -> None:
    torch.manual_seed(0)
    net = ClassifierNet(ClassifierConfig(widths=[8], convs=[1], feature_dim=8)).eval()
    clf = save_classifier(net, tmp_path / "c.safetensors",
                          {"dataset": "mnist-mini", "class_names": MNIST_CLASSES})
    page = tmp_path / "page.html"
    argv = ["report", tiny_vae, tiny_vae, "--out", str(page), "-n", "40", "--nll-images", "4",
            "-k", "5", "--classifier", str(clf), "--samples", "9", "--images", "3",
            "--metrics", "nll,fid,confidence,believability"]
    assert main(argv) == 0
    text = page.read_text()
    assert text.count("<section id='vae-1'>") == 1 and "<section id='vae-2'>" in text
    assert "src='data:image/png;base64," in text and "samples.png" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json", "c.safetensors", "page.html"]
    err = capsys.readouterr().err  # one run twice: evaluated once, its section then reused
    assert "[1/2] vae-1: figures" in err and "[2/2] vae-2: evaluation and figures reused" in err


def test_bad_seeds_on_the_command_line_are_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "s.yaml").write_text("models: [{label: m, config: {model: {name: mean}}}]\n")
    argv = ["study", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out")]
    assert main([*argv, "--seeds", "0,2,0"]) == 2
    assert "--seeds: the seed 0 is listed twice" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad:
        main([*argv, "--seeds", "0,x"])
    assert bad.value.code == 2 and "--seeds" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_address_without_ray_and_ray_without_the_package_are_one_line(
        tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "s.yaml").write_text("models: [{label: m, config: {model: {name: mean}}}]\n")
    argv = ["study", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out")]
    assert main([*argv, "--address", "head:6379"]) == 2
    assert "--address is the Ray cluster of --executor ray" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    assert main([*argv, "--executor", "ray"]) == 2
    assert "pip install 'genlab[ray]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
