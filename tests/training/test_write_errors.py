"""A full disk during training names the file it could not write: a checkpoint, the metrics,
a figure; ``genlab train`` prints that one line and exits 2."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import torch
from safetensors import SafetensorError

from genlab.cli.main import main
from genlab.figures.images import save_image_grid
from genlab.io import WriteError
from genlab.training import checkpoint
from genlab.training.logs import MetricsFiles


def full_safetensors(*args: object, **kwargs: object) -> None:
    """safetensors' own error on a full disk (no OSError; the temp file's name)."""
    raise SafetensorError("Error while serializing: I/O error: No space left on device "
                          "(os error 28) at path \"/x/.tmp\"")


def test_a_checkpoint_on_a_full_disk_names_the_checkpoint(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoint, "save_file", full_safetensors)
    path = tmp_path / "checkpoints" / "last.safetensors"
    with pytest.raises(WriteError) as failed:
        checkpoint.atomic_save(path, {"w": torch.zeros(2)}, {})
    assert str(failed.value) == f"cannot write {path}: No space left on device"
    assert failed.value.errno == errno.ENOSPC and not list(path.parent.iterdir())


def test_metrics_and_figures_on_a_full_disk_name_their_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = MetricsFiles(tmp_path, "t")
    files.rewrite([{"epoch": 1}])

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("builtins.open", full)
    with pytest.raises(WriteError, match=f"cannot write {tmp_path / 'metrics.jsonl'}: No space"):
        files.append([{"epoch": 1}, {"epoch": 2}])
    with pytest.raises(WriteError, match=f"cannot write {tmp_path / 'grid.png'}: No space"):
        save_image_grid(torch.rand(4, 1, 8, 8), tmp_path / "grid.png")


def test_genlab_train_on_a_full_disk_says_which_file_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(checkpoint, "save_file", full_safetensors)  # the first checkpoint
    code = main(["train", "vae", "--dataset", "mnist-mini", "--net", "mlp", "--hidden", "16",
                 "--latent-dim", "2", "--epochs", "1", "--epoch-samples", "0",
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    last = tmp_path / "run" / "checkpoints" / "last.safetensors"
    assert code == 2
    assert err == [f"genlab: error: cannot write {last}: No space left on device"]


def test_a_tensorboard_write_on_a_full_disk_names_the_event_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """TensorBoard's writer thread raises a failed write at the next call: it comes out naming
    the run's event folder, in one line, exit 2."""
    tensorboard = pytest.importorskip("torch.utils.tensorboard")

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tensorboard.SummaryWriter, "add_scalar", full)
    code = main(["train", "vae", "--dataset", "mnist-mini", "--net", "mlp", "--hidden", "16",
                 "--latent-dim", "2", "--epochs", "1", "--epoch-samples", "0",
                 "--set", "train.tensorboard=true", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    events = tmp_path / "run" / "tensorboard"
    assert code == 2
    assert err == [f"genlab: error: cannot write {events}: No space left on device"]
