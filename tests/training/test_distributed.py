"""Two CPU processes under torchrun (gloo) end with identical weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch


@pytest.mark.slow
def test_torchrun_two_ranks_stay_in_sync(tmp_path):
    run = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node=2",
        "--master-port=29517",
        "-m",
        "genlab",
        "train",
        "vae",
        "--net",
        "conv",
        "--channels",
        "4,8",
        "--latent-dim",
        "4",
        "--epochs",
        "1",
        "--batch-size",
        "128",
        "--val-size",
        "500",
        "--no-progress",
        "--device",
        "cpu",
        "--out",
        str(run),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["world_size"] == 2
    a, b = summary["rank_checksums"]
    assert a == b
    assert torch.isfinite(torch.tensor(a))
