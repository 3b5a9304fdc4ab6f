"""Two CPU processes under torchrun (gloo) end with identical weights."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest
import torch


def free_port() -> int:
    """A port nothing listens on now: a fixed one can still be held by an earlier run."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(run, *model_args: str, tries: int = 2) -> subprocess.CompletedProcess:
    """``genlab train MODEL_ARGS`` for one epoch on two CPU ranks into ``run``. A rank that
    aborts (SIGABRT) is run again once: on a loaded machine gloo's teardown has aborted a rank
    about once in twenty runs of these tests (2026-12-07 and -08, root cause unknown), while
    a desynchronised run fails its checks on every try."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2",
           f"--master-port={free_port()}", "-m", "genlab", "train", *model_args, "--epochs",
           "1", "--batch-size", "128", "--val-size", "500", "--no-progress", "--device", "cpu",
           "--out", str(run)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 and "(SIGABRT)" in done.stderr and tries > 1:
        shutil.rmtree(run, ignore_errors=True)  # afresh, not onto the aborted run's files
        return torchrun(run, *model_args, tries=tries - 1)
    return done


@pytest.mark.slow
def test_torchrun_two_ranks_stay_in_sync(tmp_path):
    run = tmp_path / "ddp"
    done = torchrun(run, "vae", "--net", "conv", "--channels", "4,8", "--latent-dim", "4")
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["world_size"] == 2
    a, b = summary["rank_checksums"]
    assert a == b
    assert torch.isfinite(torch.tensor(a))


@pytest.mark.slow
def test_torchrun_keeps_both_players_of_a_gan_and_its_ema_in_sync(tmp_path):
    """WGAN-GP: five critic steps per generator step, each player's gradients averaged over
    the ranks on its own optimiser, and the generator's moving average on top."""
    run = tmp_path / "ddp-gan"
    done = torchrun(run, "wgan-gp", "--channels", "4,8", "--latent-dim", "4",
                    "--ema", "0.9")
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["world_size"] == 2
    a, b = summary["rank_checksums"]
    assert a == b and torch.isfinite(torch.tensor(a))
    assert {"train/gp", "train/d_loss", "train/g_loss"} <= set(summary["final"])
