"""train.tensorboard: per-step losses, epoch rows, sample grids and the config in one run's
event files, read back with TensorBoard's own reader; a resume drops what its checkpoint lost."""

from __future__ import annotations

import sys

import pytest

from genlab import train
from genlab.errors import ConfigError
from genlab.training.logs import EpochLog

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
pytestmark = pytest.mark.slow
DCGAN = {"name": "dcgan", "latent_dim": 8, "channels": [8, 16]}


def _read(run):
    acc = event_accumulator.EventAccumulator(str(run / "tensorboard"), size_guidance={
        event_accumulator.SCALARS: 0, event_accumulator.IMAGES: 0})
    acc.Reload()
    return acc


def _steps(acc, tag: str) -> list[int]:
    return [e.step for e in acc.Scalars(tag)]


@pytest.mark.parametrize("family", ["vae", "dcgan"])
def test_a_run_writes_one_event_file_tensorboard_reads(tmp_path, tiny, family):
    cfg = tiny(train={"epochs": 2, "tensorboard": True})
    if family == "dcgan":
        cfg = {**cfg, "model": DCGAN, "data": {**cfg["data"], "binarize": "none"}}
    result = train(cfg, out=tmp_path / "run")
    events = list((tmp_path / "run" / "tensorboard").iterdir())
    assert len(events) == 1 and events[0].name.startswith("events.out.tfevents")
    acc = _read(tmp_path / "run")
    tags = acc.Tags()
    players = ["loss"] if family == "vae" else ["loss.discriminator", "loss.generator"]
    last = result.history[-1]["step"]
    assert _steps(acc, f"step/{players[0]}") == list(range(1, last + 1))
    for player in players:
        assert f"step/{player}" in tags["scalars"]
    ends = [row["step"] for row in result.history]
    for key in ("train/loss", "val/loss", "epoch", "lr", "seconds"):
        assert _steps(acc, key) == ends, key
    assert [e.value for e in acc.Scalars("val/loss")] == pytest.approx(
        [row["val/loss"] for row in result.history])
    assert [e.step for e in acc.Images("samples")] == ends
    assert "config/text_summary" in tags["tensors"]
    text = acc.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "tensorboard: true" in text


def test_a_resume_purges_the_steps_its_checkpoint_lost(tmp_path, tiny, monkeypatch):
    cfg = tiny(train={"epochs": 3, "tensorboard": True})
    run = tmp_path / "run"
    real_add = EpochLog.add
    calls = {"n": 0}

    def die_in_epoch_3(self, name, out, n):
        calls["n"] += 1
        if calls["n"] == 2 * 34 + 5:  # 34 batches of 256 per epoch: mid-epoch 3
            raise KeyboardInterrupt
        real_add(self, name, out, n)

    monkeypatch.setattr(EpochLog, "add", die_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, out=run)
    monkeypatch.setattr(EpochLog, "add", real_add)
    result = train(cfg, out=run, resume=True)
    assert len(list((run / "tensorboard").iterdir())) == 2, "one event file per session"
    acc = _read(run)
    assert _steps(acc, "step/loss") == list(range(1, result.history[-1]["step"] + 1))
    assert _steps(acc, "val/loss") == [row["step"] for row in result.history]


def test_without_the_package_it_names_the_key_and_the_extra(tmp_path, tiny, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    wanted = r"train\.tensorboard .*pip install 'genlab\[tensorboard\]'"
    with pytest.raises(ConfigError, match=wanted):
        train(tiny(train={"epochs": 1, "tensorboard": True}), out=tmp_path / "run")
    assert not (tmp_path / "run").exists(), "refused before any work"
