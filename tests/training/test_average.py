"""``train.ema``: the trainer's moving average of the weights, for any family."""

from __future__ import annotations

import pytest
import torch
import yaml

import genlab
from genlab.errors import CheckpointError, ConfigError
from genlab.models.registry import build_model, model_config_class
from genlab.runs import open_run
from genlab.training.average import ExponentialMovingAverage, WeightAverage
from genlab.training.checkpoint import atomic_save, read_checkpoint


def _dcgan():
    torch.manual_seed(0)
    config = model_config_class("dcgan")(name="dcgan", latent_dim=4, channels=[4, 8])
    return build_model(config, (1, 28, 28), 10)


def test_only_the_stepped_players_parameters_move_by_the_decay_and_buffers_are_copied():
    model = _dcgan()
    average = WeightAverage(model, 0.9)
    average.updates = {"generator": 100}  # past the warm-up: (1 + 100) / (10 + 100) > 0.9
    groups = model.param_groups()
    start = {k: v.clone() for k, v in average.model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
        for b in model.buffers():
            if b.is_floating_point():
                b.add_(2.0)
    average.update("generator", groups["generator"])
    after = average.model.state_dict()
    trained = model.state_dict()
    params = {name for name, _ in model.named_parameters()}
    for name, value in after.items():
        if name in params and name.startswith("generator."):  # 0.9 old + 0.1 (old + 1)
            torch.testing.assert_close(value, start[name] + 0.1, rtol=0, atol=1e-6)
        elif name in params:  # the discriminator did not step
            assert torch.equal(value, start[name]), name
        else:  # buffers follow the trained model as they are
            assert torch.equal(value, trained[name]), name
    assert not any(p.requires_grad for p in average.model.parameters())
    assert average.updates == {"generator": 101}


def test_the_first_update_of_a_player_takes_nine_tenths_of_its_trained_weights():
    model = _dcgan()
    average = WeightAverage(model, 0.999)
    start = {k: v.clone() for k, v in average.model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    average.update("generator", model.param_groups()["generator"])
    for name, value in average.model.generator.state_dict().items():
        if name in dict(model.generator.named_parameters()):  # d_0 = min(0.999, 1 / 10)
            torch.testing.assert_close(value, start[f"generator.{name}"] + 0.9, rtol=0,
                                       atol=1e-6)


def test_a_decay_outside_the_open_interval_is_refused():
    with pytest.raises(ConfigError, match="decay"):
        WeightAverage(_dcgan(), 1.0)
    with pytest.raises(ConfigError, match=r"train\.ema must be in \(0, 1\)"):
        ExponentialMovingAverage(0.0)


def _config(epochs: int, **train) -> dict:
    return {"model": {"name": "vae", "net": "mlp", "hidden": [32], "latent_dim": 4},
            "data": {"dataset": "mnist-mini", "val_size": 200},
            "train": {"epochs": epochs, "batch_size": 500, "progress": False, "seed": 3,
                      "device": "cpu", "epoch_samples": 4, **train}}


@pytest.mark.slow
def test_a_vae_with_ema_is_opened_as_its_average_and_resumes_exactly(
    tmp_path, interrupted_then_resumed
):
    """The trainer averages a single-player family too; validation, the returned model and
    the opened run are the average; the trained weights resume exactly."""
    full = genlab.train(_config(2, ema=0.8), out=tmp_path / "full")
    ckpt = read_checkpoint(tmp_path / "full" / "checkpoints" / "last.safetensors")
    weights = [k[6:] for k in ckpt.tensors if k.startswith("model.") and k.endswith("weight")]
    assert weights and all(f"live.{k}" in ckpt.tensors for k in weights)
    assert not any(torch.equal(ckpt.tensors[f"live.{k}"], ckpt.tensors[f"model.{k}"])
                   for k in weights)
    opened = open_run(tmp_path / "full", which="last").model
    for name, value in opened.state_dict().items():
        assert torch.equal(value, ckpt.tensors[f"model.{name}"]), name
        assert torch.equal(value, full.model.state_dict()[name]), name
    assert (tmp_path / "full" / "samples" / "epoch_002.png").is_file()
    cut = interrupted_then_resumed(_config(2, ema=0.8), tmp_path / "cut", epoch=1)
    assert [r["val/loss"] for r in cut.history] == [r["val/loss"] for r in full.history]
    resumed = read_checkpoint(tmp_path / "cut" / "checkpoints" / "last.safetensors").tensors
    for key in ckpt.tensors:
        assert torch.equal(ckpt.tensors[key], resumed[key]), key


@pytest.mark.slow
def test_resuming_with_ema_switched_is_refused(tmp_path):
    genlab.train(_config(1), out=tmp_path / "run")
    config = _config(2, ema=0.9)
    with pytest.raises(CheckpointError, match="train.ema off"):
        genlab.train(config, out=tmp_path / "run", resume=True)


@pytest.mark.slow
def test_a_0_1_gan_checkpoint_with_its_generator_average_opens_and_resumes(tmp_path):
    """0.1 kept the average in the model (model.ema, model.ema.shadow.* tensors)."""
    out = tmp_path / "dcgan"
    base = {"model": {"name": "dcgan", "latent_dim": 4, "channels": [4, 8]},
            "data": {"dataset": "mnist-mini", "val_size": 8500},
            "train": {"epochs": 1, "batch_size": 100, "progress": False, "device": "cpu",
                      "epoch_samples": 0, "ema": 0.9}}
    genlab.train(base, out=out)
    raw = yaml.safe_load((out / "config.yaml").read_text())
    raw["model"]["ema"] = raw["train"].pop("ema")
    (out / "config.yaml").write_text(yaml.safe_dump(raw))
    for name in ("last", "best"):
        path = out / "checkpoints" / f"{name}.safetensors"
        ckpt = read_checkpoint(path)
        tensors = {k: v for k, v in ckpt.tensors.items() if not k.startswith(("model.", "live."))}
        tensors.update({"model." + k[5:]: v for k, v in ckpt.tensors.items()
                        if k.startswith("live.")})
        tensors.update({"model.ema.shadow." + k[16:]: v for k, v in ckpt.tensors.items()
                        if k.startswith("model.generator.")})
        ckpt.meta["config"] = raw
        path.unlink()
        atomic_save(path, tensors, ckpt.meta)
    average = read_checkpoint(out / "checkpoints" / "last.safetensors")
    run = open_run(out, which="last")
    assert run.config.train.ema == 0.9
    for name, value in run.model.generator.state_dict().items():
        assert torch.equal(value, average.tensors[f"model.generator.{name}"]), name
    result = genlab.train(run.config.to_dict() | {"train": {**raw["train"], "ema": 0.9,
                                                             "epochs": 2}}, out=out, resume=True)
    assert [r["epoch"] for r in result.history] == [1, 2]
