"""GAN inversion in the latent toolkit (Zhu et al. 2016; Creswell & Bharath 2018): a model with a
generator and no encoder gets its codes by fitting z per image through the frozen generator,
so perturb, interpolate, infer and complete work on it, and the experiments on the codes of
many images refuse it with a clear message."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

import genlab
from genlab.cli.main import main
from genlab.errors import ConfigError
from genlab.latent import experiments as ex
from genlab.latent.fit import fit_objective
from genlab.latent.moves import codes
from genlab.latent.noise import CodeNoise, noise_unit
from genlab.latent.ops import decode, encode
from genlab.models.core.base import LatentVariableModel
from genlab.models.core.config import LatentConfig
from genlab.models.core.pixels import INVERSION_SIGMA
from genlab.models.families.adversarial.base import AdversarialModel
from genlab.models.parts.likelihoods import ImplicitPixels
from genlab.models.registry import build_model, model_config_class
from genlab.runs import Run, open_run
from genlab.training.config import DataConfig, RunConfig

FAST = ex.FitOptions(steps=80, patience=20)
REFUSED = "needs an encoder; the '{}' model has none: use `genlab latent infer`"


class Generator(LatentVariableModel):
    """A generator and a prior, nothing else: a random MLP from 4-D codes to plain images."""

    def __init__(self, config: LatentConfig, shape: tuple[int, int, int], num_classes: int):
        super().__init__(config, shape, num_classes)
        self.net = nn.Sequential(nn.Linear(config.latent_dim, 64), nn.Tanh(),
                                 nn.Linear(64, math.prod(shape)), nn.Sigmoid())
        with torch.no_grad():  # larger output weights: images that differ from code to code
            self.net[2].weight.mul_(4)

    fit_objective = AdversarialModel.fit_objective  # inverted as a GAN's generator is

    def decode(self, z: Tensor, y: Tensor | None = None) -> ImplicitPixels:
        return ImplicitPixels(self.net(z).view(-1, *self.shape), INVERSION_SIGMA)


@pytest.fixture(scope="module")
def toy() -> Run:
    """The generator as a run on mnist-mini's images (nothing trained, nothing on disk)."""
    torch.manual_seed(0)
    config = LatentConfig(name="toy-generator", latent_dim=4)
    data = DataConfig(dataset="mnist-mini", val_size=200)
    return Run(Generator(config, (1, 28, 28), 10), RunConfig(model=config, data=data),
               Path("toy"), {})


def per_image_mse(a: Tensor, b: Tensor) -> Tensor:
    return (a - b).square().flatten(1).mean(1)


def test_inversion_recovers_the_image_of_a_generated_code(toy):
    m = toy.model
    z_true = m.sample_prior(6, torch.Generator().manual_seed(1))
    x = decode(m, z_true)
    z, source = codes(m, x, torch.full((6,), -1))
    refit = per_image_mse(decode(m, z), x)
    from_prior_mean = per_image_mse(decode(m, torch.zeros(1, 4)), x)
    assert bool((refit < 0.01).all()) and bool((refit < 0.01 * from_prior_mean).all())
    assert source["codes_from"] == fit_objective(m) and "GAN inversion" in source["codes_from"]
    assert source["inversion_elbo"].shape == (6,) and source["fit_steps"] == 1000


def test_a_model_with_an_encoder_keeps_its_encodings():
    cfg = model_config_class("vae")(name="vae", hidden=[16], latent_dim=3)
    model = build_model(cfg, (1, 28, 28), 10).eval()
    x = torch.rand(4, 1, 28, 28)
    z, source = codes(model, x, torch.zeros(4, dtype=torch.long))
    assert torch.equal(z, encode(model, x)) and source == {"codes_from": "encoder"}


def test_moves_and_fits_run_on_a_generator_and_say_how_they_got_codes(toy):
    objective = fit_objective(toy.model)
    sel = toy.select("test", n=3)
    moved = ex.perturb(toy, sel, [0.0, 1.0], torch.Generator().manual_seed(0), FAST)
    assert moved.numbers["codes_from"] == objective and moved.numbers["fit_steps"] == 80
    assert torch.allclose(moved.rows[2], moved.rows[1], atol=1e-6)  # sigma 0: the code
    anchor = toy.select("test", index=[0])
    path = ex.interpolate(toy, anchor, toy.select("test", index=[1, 2]), steps=4, options=FAST)
    assert len(path.rows) == 2 and path.numbers["codes_from"] == objective
    assert path.numbers["inversion_elbo"].shape == (3,)  # the two rows and the anchor, one fit
    inferred = ex.infer(toy, sel, FAST)
    assert len(inferred.rows) == 2 and inferred.numbers["objective"] == objective
    mask, _ = ex.completion_mask(toy, len(sel), "left")
    done = ex.complete(toy, sel, mask, FAST)
    assert done.numbers["objective"] == objective
    assert torch.equal(done.rows[2][..., :14], sel.x[..., :14])  # observed pixels untouched


def test_experiments_on_many_codes_refuse_a_generator_first(toy, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("work started before the check")

    monkeypatch.setattr(ex, "encode", no_work)
    monkeypatch.setattr("genlab.latent.moves.encode", no_work)
    sel = toy.select("test", n=2)
    calls = {
        "centroid": lambda: ex.centroid(toy, sel, [0.5]),
        "toward-class": lambda: ex.toward_class(toy, sel, 7, [0.5]),
        "blend": lambda: ex.blend(toy, sel, sel),
        "latent arithmetic": lambda: ex.arithmetic(toy, sel, sel, sel),
        "map": lambda: ex.latent_map(toy, sel),
    }
    for op, call in calls.items():
        with pytest.raises(ConfigError, match=f"^{op} " + REFUSED.format("toy-generator")):
            call()


@pytest.fixture(scope="module")
def gan(tmp_path_factory) -> str:
    """The fully connected GAN trained for one epoch on mnist-mini."""
    out = tmp_path_factory.mktemp("gan-inversion") / "gan"
    genlab.train({
        "model": {"name": "gan", "latent_dim": 8},
        "data": {"dataset": "mnist-mini", "val_size": 200},
        "train": {"epochs": 1, "batch_size": 500, "progress": False, "seed": 0,
                  "device": "cpu", "epoch_samples": 0},
    }, out=out)
    return str(out)


@pytest.mark.slow
@pytest.mark.parametrize("argv", [
    ["centroid", "-n", "2"],
    ["toward-class", "-n", "2", "--target", "7"],
    ["blend", "--a-index", "0", "--b-index", "1"],
    ["map", "-n", "20"],
])
def test_the_cli_refuses_encoder_commands_on_a_gan(gan, tmp_path, capsys, argv):
    assert main(["latent", argv[0], gan, *argv[1:], "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("genlab: error:") and "Traceback" not in err
    assert REFUSED.format("gan") in err


@pytest.mark.slow
def test_the_cli_inverts_a_gan(gan, tmp_path):
    out = str(tmp_path)
    assert main(["latent", "perturb", gan, "--index", "0,1", "--sigmas", "0.5",
                 "--out", out]) == 0
    perturbed = json.loads((tmp_path / "perturb.json").read_text())
    assert perturbed["model"] == "gan" and "GAN inversion" in perturbed["codes_from"]
    assert main(["latent", "infer", gan, "-n", "2", "--max-steps", "40", "--out", out]) == 0
    inferred = json.loads((tmp_path / "infer.json").read_text())
    assert inferred["objective"] == perturbed["codes_from"]
    assert "elbo_with_encoder" not in inferred


@pytest.mark.slow
def test_relative_noise_on_a_gan_is_in_units_of_its_prior_sd(gan):
    """No encoder, so no training codes: the unit is the sd of prior draws, N(0, I)'s 1."""
    unit, numbers = noise_unit(open_run(gan), CodeNoise("relative"))
    assert numbers["spread_from"] == "prior draws" and unit.shape == (8,)
    torch.testing.assert_close(unit, torch.ones(8), atol=0.08, rtol=0)
