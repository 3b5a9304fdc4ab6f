"""``genlab results DIR --out FILE``: a study folder's Markdown page, and the sessions a
study records for it (``study.provenance``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from genlab.cli.main import main
from genlab.figures.images import save_image_grid
from genlab.report.records import Figure, ModelSection
from genlab.study.provenance import read_sessions, session


def _study(root: Path, finished: bool) -> None:
    (root / "models").mkdir(parents=True)
    (root / "study.yaml").write_text(yaml.safe_dump({"name": "tiny study"}))
    records = []
    for i, label in enumerate(["pca", "vae"]):
        folder = root / "models" / label
        save_image_grid(torch.rand(4, 1, 8, 8), folder / "samples.png")
        section = ModelSection(label, "k", {"model": label}, {"fid": 10.0 + i},
                               {"metrics": {"fid": {"fid": 10.0 + i, "real_fid": 1.0,
                                                    "samples": 64, "real": 64, "split": "test",
                                                    "feature_space": "fid-mnistnet",
                                                    "classifier_sha256": "abc"}}},
                               [Figure("samples", "samples", "samples.png")], {},
                               {"seconds": 2.0, "epochs_run": 3}, seed=0)
        (folder / "section.json").write_text(json.dumps(section.to_json()))
        records.append(section.to_json())
    if finished:
        (root / "results.json").write_text(json.dumps({"models": records}))


@pytest.mark.parametrize("finished", [True, False])
def test_results_writes_the_page_of_a_study_folder(tmp_path, capsys, finished) -> None:
    _study(tmp_path / "study", finished)
    with session(tmp_path / "study", ["genlab", "study", "s.yaml", "--out", "study"]):
        pass
    out = tmp_path / "docs" / "tiny.md"
    assert main(["results", str(tmp_path / "study"), "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# tiny study") and "**10**" in text
    assert ("has not finished" in text) != finished
    assert "Command: `genlab study s.yaml --out study`" in text
    assert (tmp_path / "docs" / "tiny" / "vae-samples.png").is_file()


def test_results_of_a_folder_that_is_no_study_names_it(tmp_path, capsys) -> None:
    assert main(["results", str(tmp_path), "--out", str(tmp_path / "x.md")]) == 2
    assert "is not a study folder" in capsys.readouterr().err
    assert not (tmp_path / "x.md").exists()


def test_a_session_is_recorded_also_when_it_fails_but_not_before_the_folder_exists(tmp_path):
    with pytest.raises(RuntimeError), session(tmp_path / "none", ["genlab"]):
        raise RuntimeError
    assert not (tmp_path / "none").exists()
    (tmp_path / "s").mkdir()
    with pytest.raises(KeyboardInterrupt), session(tmp_path / "s", ["genlab", "study"]):
        raise KeyboardInterrupt
    with session(tmp_path / "s", ["genlab", "study"]):
        pass
    first, second = read_sessions(tmp_path / "s")
    assert not first["finished"] and second["finished"]
    assert second["cpus"] >= 1 and second["torch"] == torch.__version__ and second["seconds"] >= 0


def test_a_terminated_session_is_recorded(tmp_path) -> None:
    """SIGTERM ends the session like an interrupt: its record is written, then it exits."""
    import os
    import signal

    (tmp_path / "s").mkdir()
    before = signal.getsignal(signal.SIGTERM)  # SIG_DFL, or Ray's where a test started Ray
    with pytest.raises(SystemExit) as stop, session(tmp_path / "s", ["genlab", "study"]):
        os.kill(os.getpid(), signal.SIGTERM)
    assert stop.value.code == 128 + signal.SIGTERM
    assert [s["finished"] for s in read_sessions(tmp_path / "s")] == [False]
    assert signal.getsignal(signal.SIGTERM) is before  # handed back
