"""Two ``genlab study`` processes on one study folder split the runs: none is trained twice,
both finish with the whole page."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from studydata import tiny_study


@pytest.mark.slow
def test_two_study_processes_never_train_one_run_twice(tmp_path: Path, classifier: Path) -> None:
    models = tiny_study(classifier)["models"][1:]  # pca, vae, gan
    study = tiny_study(classifier, models=models,
                       evaluation={"metrics": ["fid"], "n": 32, "classifier": str(classifier)})
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))
    command = [sys.executable, "-m", "genlab", "study", str(tmp_path / "study.yaml"),
               "--out", str(tmp_path / "out"), "--workers", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    logs = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    trained = re.findall(r"training \S+ into (\S+)", "".join(logs))
    runs = sorted(str(p) for p in (tmp_path / "out" / "runs").iterdir())
    assert sorted(trained) == runs  # every run trained once, by one of the two
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [m["label"] for m in results["models"]] == ["pca", "vae", "gan"]
