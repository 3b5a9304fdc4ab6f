"""What ``genlab train`` says of a run the time limit ended or a resume that trained nothing,
and the one-line refusals (exit 2) of a damaged run: its config.yaml, its checkpoints."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from genlab.cli.main import main
from genlab.training.checkpoint import atomic_save, read_checkpoint

TRAIN = ["train", "vae", "--net", "mlp", "--hidden", "16", "--latent-dim", "2", "--val-size",
         "500", "--epoch-samples", "0", "--no-progress"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """A run its time limit (a microsecond) ended after the first of 4 epochs."""
    out = tmp_path_factory.mktemp("limit") / "vae"
    assert main([*TRAIN, "--epochs", "4", "--time-limit", "1e-8", "--out", str(out)]) == 0
    return out


def test_the_time_limit_is_said_and_a_spent_resume_says_how_to_go_on(limited, tmp_path, capsys):
    run = tmp_path / "vae"
    shutil.copytree(limited, run)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped_early"] and summary["stopped_by"] == "time_limit"
    assert main(["train", "--resume", str(run), "--epochs", "6", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "nothing trained: the time limit (1e-08 min) was spent" in out
    assert "raise --time-limit to train on" in out
    assert main(["train", "--resume", str(run), "--epochs", "2", "--time-limit", "100",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "2 epoch(s)" in out and "nothing trained" not in out and "stopped" not in out


def test_the_first_session_names_the_time_limit(tmp_path, capsys):
    out = tmp_path / "vae"
    assert main([*TRAIN, "--epochs", "3", "--time-limit", "1e-8", "--out", str(out)]) == 0
    assert "stopped by the time limit after 1 epoch (1e-08 min of training)" in (
        capsys.readouterr().out)


@pytest.mark.parametrize("text", ["model: [\n  x", "a: b\n\tc", "- a list\n"])
def test_a_malformed_run_config_exits_2_in_one_line(limited, tmp_path, capsys, text):
    run = tmp_path / "vae"
    shutil.copytree(limited, run)
    (run / "config.yaml").write_text(text)
    for argv in (["train", "--resume", str(run), "--epochs", "5"],
                 ["sample", str(run), "--out", str(tmp_path / "s.png")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"{run}/config.yaml" in err and err.count("\n") == 1, err


def _overwrite_weights(path, value):
    ckpt = read_checkpoint(path)
    name = next(k for k in ckpt.tensors if k.startswith("model.") and k.endswith("weight"))
    ckpt.tensors[name].fill_(value)
    return ckpt, name


@pytest.mark.parametrize("argv", [["sample", "RUN", "--out", "OUT/s.png"],
                                  ["evaluate", "RUN", "--metrics", "nll", "--nll-images", "8",
                                   "-k", "8"]])
def test_a_damaged_checkpoint_exits_2_naming_the_file(limited, tmp_path, capsys, argv):
    run = tmp_path / "vae"
    shutil.copytree(limited, run)
    best = run / "checkpoints" / "best.safetensors"
    best.unlink()  # a file of its own, not a link to last
    ckpt, name = _overwrite_weights(run / "checkpoints" / "last.safetensors", float("nan"))
    atomic_save(best, ckpt.tensors, ckpt.meta)
    argv = [a.replace("RUN", str(run)).replace("OUT", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{best} holds non-finite weights: {name}" in err
    assert "last.safetensors of this run is intact: open it with --which last" in err
    assert err.count("\n") == 1
    raw = bytearray(best.read_bytes())  # now bytes changed after the write: the digest says
    raw[-4:] = b"\x00\x00\xc0\x7f"
    best.write_bytes(bytes(raw))
    assert main(argv) == 2
    assert f"{best} is corrupt: its tensors differ" in capsys.readouterr().err
    assert main([*argv, "--which", "last"]) == 0
    assert torch.isfinite(read_checkpoint(run / "checkpoints" / "last.safetensors")
                          .tensors[name]).all()
