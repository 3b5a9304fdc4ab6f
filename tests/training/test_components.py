"""Models built on other trained runs, proved by a toy two-stage family defined here alone: a
diagonal Gaussian prior learned by maximum likelihood on a trained VAE's posterior means
(the simplest of the priors of Dai & Wipf 2019's second stage). It goes through the real
trainer, registry, checkpoints and loader with no change to genlab."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch
from torch import Tensor, nn
from torch.distributions import Independent, Normal

import genlab
from genlab.cli.main import main
from genlab.errors import CheckpointError, ConfigError
from genlab.models.core.base import Batch, LatentVariableModel, LossOutput
from genlab.models.core.capabilities import Decoder, Encoder
from genlab.models.core.components import Component
from genlab.models.core.config import ModelConfig
from genlab.models.core.latent_space import LatentSpace
from genlab.models.registry import MODELS, build_model
from genlab.training.checkpoint import read_checkpoint
from genlab.training.components import weights_digest

pytestmark = pytest.mark.slow


@dataclass
class CodePriorConfig(ModelConfig):
    first_stage: str = ""


class CodePrior(LatentVariableModel):
    config_class = CodePriorConfig
    component_specs: ClassVar[tuple[Component, ...]] = (
        Component("first_stage", (Encoder, Decoder), "first stage"),)

    def __init__(self, config, shape, num_classes, components):
        super().__init__(config, shape, num_classes, components)
        dim = self.built_on["first_stage"].latent_dim
        self.loc = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))

    @property
    def latent_space(self) -> LatentSpace:
        return LatentSpace((self.loc.numel(),), prior=self.sample_prior)

    def prior(self) -> Independent:
        return Independent(Normal(self.loc, self.log_scale.exp()), 1)

    def decode(self, z: Tensor, y: Tensor | None = None):
        return self.built_on["first_stage"].decode(z, y)

    def loss(self, batch: Batch) -> LossOutput:
        with torch.no_grad():
            z = self.built_on["first_stage"].encode_mean(batch.x)
        nll = -self.prior().log_prob(z).mean()
        return LossOutput(nll, {"nll": nll.detach()})


def _config(name: str, **model) -> dict:
    return {"model": {"name": name, **model},
            "data": {"dataset": "mnist-mini", "binarize": "dynamic", "val_size": 9000},
            "train": {"epochs": 1, "batch_size": 250, "progress": False, "seed": 0,
                      "device": "cpu", "epoch_samples": 0}}


@pytest.fixture(scope="module")
def first_stage(tmp_path_factory) -> object:
    root = tmp_path_factory.mktemp("stages")
    genlab.train(_config("vae", net="mlp", hidden=[32], latent_dim=3), out=root / "vae")
    return root


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(MODELS, "code-prior", CodePrior)


def _digest(run) -> str:
    return weights_digest(genlab.load(run).model.state_dict())


def test_a_family_trains_on_a_frozen_first_stage_and_records_it(first_stage, registered,
                                                                tmp_path):
    vae = first_stage / "vae"
    before = _digest(vae)
    result = genlab.train(_config("code-prior", first_stage=str(vae)), out=tmp_path / "prior")
    assert _digest(vae) == before  # frozen: training the prior left the first stage alone
    model = result.model
    assert sorted(model.state_dict()) == ["loc", "log_scale"]  # not saved with the prior
    assert model.loc.abs().sum() > 0  # the prior moved toward the codes
    stored = (tmp_path / "prior" / "config.yaml").read_text()
    assert f"first_stage: {vae.resolve()}" in stored
    record = read_checkpoint(tmp_path / "prior" / "checkpoints" / "best.safetensors")
    origin = record.meta["components"]["first_stage"]
    assert origin["model"] == "vae" and origin["digest"] == before
    assert (tmp_path / "prior" / origin["relative"]).resolve() == vae.resolve()
    run = genlab.load(tmp_path / "prior")
    assert run.model.built_on["first_stage"].config.name == "vae"
    samples = run.sample(5, seed=0)
    assert samples.shape == (5, 1, 28, 28)
    again = genlab.train(_config("code-prior", first_stage=str(vae)) | {
        "train": {**_config("x")["train"], "epochs": 2}}, out=tmp_path / "prior", resume=True)
    assert again.history[-1]["epoch"] == 2


def test_a_two_stage_run_reopens_after_its_folder_moves(first_stage, registered, tmp_path):
    study = tmp_path / "study"
    shutil.copytree(first_stage / "vae", study / "vae")
    genlab.train(_config("code-prior", first_stage=str(study / "vae")), out=study / "prior")
    moved = shutil.move(study, tmp_path / "moved")
    run = genlab.load(f"{moved}/prior")  # found relative to the run: ../vae
    assert run.model.built_on["first_stage"].origin.run == str(tmp_path / "moved" / "vae")


def test_a_first_stage_with_other_weights_is_refused_on_reopening(first_stage, registered,
                                                                  tmp_path):
    shutil.copytree(first_stage / "vae", tmp_path / "vae")
    genlab.train(_config("code-prior", first_stage=str(tmp_path / "vae")), out=tmp_path / "p")
    genlab.train(_config("vae", net="mlp", hidden=[32], latent_dim=3) | {
        "train": {**_config("x")["train"], "epochs": 2}}, out=tmp_path / "vae", resume=True)
    with pytest.raises(CheckpointError, match="other weights than it was trained on"):
        genlab.load(tmp_path / "p")


def test_bad_first_stages_are_refused_naming_the_field(first_stage, registered, tmp_path):
    cases = {"": "model.first_stage: name the first stage's run directory",
             str(tmp_path / "nowhere"): "is not a genlab run directory"}
    unfinished = tmp_path / "unfinished"
    shutil.copytree(first_stage / "vae", unfinished)
    (unfinished / "summary.json").unlink()
    cases[str(unfinished)] = "has not finished training"
    for value, words in cases.items():
        with pytest.raises(ConfigError, match=words):
            genlab.train(_config("code-prior", first_stage=value), out=tmp_path / "x")
        assert not (tmp_path / "x" / "checkpoints" / "last.safetensors").exists()
    other = _config("code-prior", first_stage=str(first_stage / "vae"))
    other["data"]["binarize"] = "none"
    with pytest.raises(ConfigError, match="data.binarize='dynamic', this run has data.binarize"):
        genlab.train(other, out=tmp_path / "y")


def test_a_first_stage_without_an_encoder_is_refused(registered, tmp_path):
    gan = genlab.train(_config("gan", **MODELS["gan"].tiny), out=tmp_path / "gan").run_dir
    with pytest.raises(ConfigError, match=r"model.first_stage \(the first stage\) needs an "
                                          "encoder, but the 'gan' model has no encoder"):
        genlab.train(_config("code-prior", first_stage=str(gan)), out=tmp_path / "p")


def test_build_model_refuses_components_a_family_does_not_declare(registered) -> None:
    vae = build_model(MODELS["vae"].config_class(name="vae"), (1, 28, 28), 10)
    with pytest.raises(ConfigError, match="built on no other run"):
        build_model(vae.config, (1, 28, 28), 10, {"first_stage": vae})
    with pytest.raises(ConfigError, match="needs its first stage"):
        build_model(CodePriorConfig(name="code-prior"), (1, 28, 28), 10, {})


def test_genlab_train_exits_2_naming_a_first_stage_that_is_not_a_run(tmp_path, capsys) -> None:
    code = main(["train", "gmm-prior", "--first-stage", str(tmp_path / "none"),
                 "--dataset", "mnist-mini", "--out", str(tmp_path / "p")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"model.first_stage: {tmp_path / 'none'} is not a genlab run directory" in err
    assert not (tmp_path / "p" / "config.yaml").exists()
