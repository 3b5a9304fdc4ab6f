"""Checkpoint integrity: the digest of every tensor, written with them and checked on every
read; weights that are not finite, refused on read and never written by the trainer."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from genlab import load, train
from genlab.errors import CheckpointError, CorruptCheckpointError, TrainingDivergedError
from genlab.models.core.callbacks import Callback
from genlab.models.registry import build_model
from genlab.training.checkpoint import (
    DIGEST,
    FORMAT,
    atomic_save,
    model_meta,
    read_checkpoint,
    read_meta,
)
from genlab.training.config import config_from_dict, save_config

CONFIG = {"model": {"name": "vae", "net": "mlp", "hidden": [16], "latent_dim": 2},
          "data": {"dataset": "mnist-mini"}}
SAFETENSORS_DTYPES = {"F32": "torch.float32", "I64": "torch.int64", "U8": "torch.uint8"}


def write_run(run: Path, linked: bool = False) -> Path:
    """A run directory of an untrained tiny VAE: config.yaml, and best and last checkpoints
    (``linked``: one file under both names, as after an improving epoch; else two)."""
    config = config_from_dict(CONFIG)
    model = build_model(config.model, (1, 28, 28), 10)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    meta = {**model_meta(model, config.to_dict()), "epoch": 1}
    folder = run / "checkpoints"
    folder.mkdir(parents=True)
    save_config(config, run / "config.yaml")
    names = [folder / "last.safetensors", folder / "best.safetensors"]
    for paths in [names] if linked else [[p] for p in names]:
        atomic_save(paths, tensors, meta)
    return run


def tensor_bytes(path: Path) -> tuple[dict, int]:
    """The safetensors header (name -> dtype, shape, data offsets) and where the data begin."""
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8:8 + n]), 8 + n


def overwrite(path: Path, name: str) -> None:
    """Random bytes over tensor ``name``'s data, the header left intact."""
    header, base = tensor_bytes(path)
    start, end = (base + o for o in header[name]["data_offsets"])
    noise = torch.randint(0, 256, (end - start,), generator=torch.Generator().manual_seed(0),
                          dtype=torch.uint8).numpy().tobytes()
    raw = path.read_bytes()
    with path.open("r+b") as fh:  # in place: a hard-linked name sees the damage too
        fh.write(raw[:start] + noise + raw[end:])


def largest_weight(path: Path) -> str:
    header, _ = tensor_bytes(path)
    weights = [k for k in header if k.startswith("model.")]
    return max(weights, key=lambda k: header[k]["data_offsets"][1] - header[k]["data_offsets"][0])


def test_the_digest_is_the_sha256_of_names_dtypes_shapes_and_the_files_bytes(tmp_path):
    path = tmp_path / "c.safetensors"
    tensors = {"b": torch.arange(6).reshape(2, 3), "a": torch.linspace(0, 1, 5),
               "c": torch.tensor([7], dtype=torch.uint8)}
    atomic_save(path, tensors, {"format": FORMAT})
    # An independent computation, from the file's own header and data bytes.
    header, base = tensor_bytes(path)
    raw, h = path.read_bytes(), hashlib.sha256()
    for name in sorted(k for k in header if k != "__metadata__"):
        info = header[name]
        h.update(f"{name}:{SAFETENSORS_DTYPES[info['dtype']]}:{tuple(info['shape'])};".encode())
        start, end = info["data_offsets"]
        h.update(raw[base + start:base + end])
    assert read_meta(path)[DIGEST] == h.hexdigest()


def test_random_bytes_over_one_weight_are_refused_naming_the_file_and_the_intact_one(tmp_path):
    run = write_run(tmp_path / "run")
    best = run / "checkpoints" / "best.safetensors"
    overwrite(best, largest_weight(best))
    with pytest.raises(CorruptCheckpointError, match=r"best.safetensors is corrupt: its tensors "
                       r"differ .*; last.safetensors of this run is intact: open it with "
                       r"--which last"):
        load(run)
    assert load(run, which="last").meta["epoch"] == 1  # the intact one opens


def test_a_damaged_file_under_both_names_suggests_nothing(tmp_path):
    run = write_run(tmp_path / "run", linked=True)
    last = run / "checkpoints" / "last.safetensors"
    overwrite(last, largest_weight(last))
    for which in ("best", "last"):
        with pytest.raises(CorruptCheckpointError, match=r"is corrupt") as err:
            load(run, which=which)
        assert "--which" not in str(err.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_on_read(tmp_path, value):
    run = write_run(tmp_path / "run")
    last = run / "checkpoints" / "last.safetensors"
    ckpt = read_checkpoint(last)
    name = sorted(ckpt.section("model"))[0]
    ckpt.tensors[f"model.{name}"].view(-1)[0] = value
    atomic_save(last, ckpt.tensors, ckpt.meta)  # its digest matches: only the values are bad
    with pytest.raises(CorruptCheckpointError, match=f"last.safetensors holds non-finite "
                       f"weights: model.{name} has NaN or inf"):
        read_checkpoint(last)
    with pytest.raises(CorruptCheckpointError, match="open it with --which best"):
        load(run, which="last")


def test_a_checkpoint_written_before_the_digest_opens_unchecked(tmp_path):
    run = write_run(tmp_path / "run")
    last = run / "checkpoints" / "last.safetensors"
    meta = read_meta(last)
    del meta[DIGEST]
    save_file(load_file(str(last)), str(last), metadata={"genlab": json.dumps(meta)})
    assert DIGEST not in read_checkpoint(last).meta
    assert load(run, which="last").sample(2).shape == (2, 1, 28, 28)


def test_metadata_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "c.safetensors"
    save_file({"w": torch.ones(1)}, str(path), metadata={"genlab": "{half a"})
    with pytest.raises(CheckpointError, match="c.safetensors is corrupt: its metadata is not"):
        read_checkpoint(path)


class PoisonAfter(Callback):
    """Leaves one weight NaN at the end of epoch ``epoch`` (an infinite gradient at its last
    step would) while every loss was finite."""

    name = "poison"

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, trainer, epoch) -> None:
        if epoch.row["epoch"] == self.epoch:
            with torch.no_grad():
                next(trainer.model.parameters()).view(-1)[0] = float("nan")


@pytest.mark.slow
@pytest.mark.parametrize("ema", [0.0, 0.9])
def test_the_trainer_never_writes_non_finite_weights(tmp_path, tiny, ema):
    cfg = tiny(train={"epochs": 3, "epoch_samples": 0, "ema": ema})
    run = tmp_path / "run"
    with pytest.raises(TrainingDivergedError, match=r"not finite after epoch 2 \(.* has NaN or "
                       r"inf values\); the last good checkpoint .*last.safetensors \(epoch 1\) "
                       r"is untouched"):
        train(cfg, out=run, callbacks=[PoisonAfter(2)])
    ckpt = read_checkpoint(run / "checkpoints" / "last.safetensors")  # finite: it reads
    assert ckpt.meta["epoch"] == 1


LEGACY = Path(__file__).parents[1] / "models" / "legacy_runs"


@pytest.mark.parametrize("family", ["realnvp", "ddpm", "pixelcnn"])
def test_nan_weights_in_a_flow_ddpm_or_pixelcnn_without_a_digest_are_refused(tmp_path, family):
    run = tmp_path / family
    shutil.copytree(LEGACY / family, run)
    best = run / "checkpoints" / "best.safetensors"
    meta = read_meta(best)
    assert DIGEST not in meta  # written before the digest: only the values say it is bad
    tensors = load_file(str(best))
    name = largest_weight(best)
    tensors[name].view(-1)[0] = float("nan")
    save_file(tensors, str(best), metadata={"genlab": json.dumps(meta)})
    with pytest.raises(CorruptCheckpointError, match=f"holds non-finite weights: {name} "):
        load(run)
