"""Device independence: a run opens wherever it is read, whatever device trained it.

Checkpoints are read onto the CPU (an explicit map location) and the model is moved to the
requested device afterwards. The CUDA round trip needs a GPU and is skipped without one.
"""

from __future__ import annotations

import pytest
import torch

from genlab import train
from genlab.errors import ConfigError
from genlab.runs import open_run
from genlab.training.checkpoint import read_checkpoint

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _tiny(device: str) -> dict:
    return {
        "model": {"name": "vae", "net": "mlp", "hidden": [16], "latent_dim": 2},
        "data": {"dataset": "mnist-mini", "val_size": 200, "binarize": "dynamic"},
        "train": {"epochs": 1, "batch_size": 1000, "progress": False, "device": device,
                  "epoch_samples": 0},
    }


def test_checkpoints_are_read_onto_the_cpu(tmp_path):
    train(_tiny("cpu"), out=tmp_path / "run")
    ckpt = read_checkpoint(tmp_path / "run" / "checkpoints" / "best.safetensors")
    assert {t.device.type for t in ckpt.tensors.values()} == {"cpu"}
    run = open_run(tmp_path / "run", device="auto")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert run.model.device.type == expected
    assert run.sample(3).device.type == "cpu"


def test_an_unavailable_device_is_a_clear_error(tmp_path):
    train(_tiny("cpu"), out=tmp_path / "run")
    with pytest.raises(ConfigError, match="not a torch device"):
        open_run(tmp_path / "run", device="tpu7")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            open_run(tmp_path / "run", device="cuda")


@CUDA
def test_a_gpu_trained_run_opens_on_the_cpu(tmp_path):
    result = train(_tiny("cuda"), out=tmp_path / "run")
    assert result.model.device.type == "cuda"
    run = open_run(tmp_path / "run", device="cpu")
    assert run.model.device.type == "cpu"
    images = run.sample(4)
    assert images.shape == (4, 1, 28, 28) and torch.isfinite(images).all()
    # The PCA path (scikit-learn on CPU arrays) on a CUDA run.
    pca = {"model": {"name": "pca", "n_components": 8}, "data": {"dataset": "mnist-mini"},
           "train": {"device": "cuda", "progress": False}}
    train(pca, out=tmp_path / "pca")
    assert open_run(tmp_path / "pca", device="cpu").sample(2).shape == (2, 1, 28, 28)
