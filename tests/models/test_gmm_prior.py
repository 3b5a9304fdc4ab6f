"""The mixture prior on a trained VAE's codes (``gmm-prior``): its likelihood against a direct
computation, and what it does to sampling.

With a 2-D code, log p(x) = log integral p(x | z) p(z) dz is computed directly on a fine grid of
z (every decode at once; the Bernoulli decoder's log p(x | z) for all images as two matrix
products), and the importance-sampled estimate the family reports must agree with it. The
images are MNIST at 7 x 7, where log p(x | z) is smooth enough in z for importance sampling
with the first stage's encoder to be tight at k = 20,000 (at 28 x 28 a one-epoch VAE's q(z|x)
leaves the estimate's spread at several nats there)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch.nn.functional import logsigmoid

import genlab

pytestmark = pytest.mark.slow
DATA = {"dataset": "mnist-mini", "binarize": "dynamic", "val_size": 9000, "size": 7}
TRAIN = {"epochs": 1, "batch_size": 100, "progress": False, "seed": 0, "device": "cpu",
         "epoch_samples": 0}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gmm")
    vae = genlab.train({"model": {"name": "vae", "net": "mlp", "hidden": [64], "latent_dim": 2},
                        "data": DATA, "train": TRAIN}, out=root / "vae").run_dir
    gmm = genlab.train({"model": {"name": "gmm-prior", "first_stage": str(vae), "mixtures": 4},
                        "data": DATA, "train": TRAIN}, out=root / "gmm").run_dir
    return {"vae": vae, "gmm": gmm}


def _grid_log_likelihood(model, x: torch.Tensor, half_width: float = 6.0,
                         points: int = 500) -> torch.Tensor:
    """log sum_z p(x | z) p(z) dA over a points x points grid of z: the integral, directly."""
    axis = torch.linspace(-half_width, half_width, points, dtype=torch.float64)
    grid = torch.cartesian_prod(axis, axis)
    area = (axis[1] - axis[0]) ** 2
    flat = x.flatten(1).double()
    terms = []
    with torch.no_grad():
        for z in grid.split(20_000):
            logits = model.decode(z.float()).dist.logits.flatten(1).double()
            log_px = flat @ logsigmoid(logits).T + (1 - flat) @ logsigmoid(-logits).T
            terms.append(log_px + model.prior().log_prob(z.float()).double())
    return torch.cat(terms, dim=1).logsumexp(1) + math.log(area)


def test_the_importance_sampled_likelihood_is_the_integral(runs: dict[str, Path]) -> None:
    run = genlab.load(runs["gmm"])
    x = run.select(split="test", n=6).x
    direct = _grid_log_likelihood(run.model, x)
    torch.manual_seed(0)
    estimate = run.model.log_likelihood(x, k=20_000)
    # The estimate is a lower bound in expectation that is tight at this k for a 2-D code.
    torch.testing.assert_close(estimate, direct, atol=0.3, rtol=0)
    assert "proposal the first stage's q(z|x)" in run.model.likelihood_method(20_000)
    assert run.model.likelihood_scale("dynamic").kind == "discrete"


def test_the_prior_is_fitted_to_the_codes_and_samples_decode_its_draws(
        runs: dict[str, Path]) -> None:
    run, vae = genlab.load(runs["gmm"]), genlab.load(runs["vae"])
    model = run.model
    x = run.select(split="train", n=2000).x
    with torch.no_grad():
        codes = vae.model.encode(x).sample()
    fitted = model.prior().log_prob(codes).mean()
    standard = vae.model.prior().log_prob(codes).mean()
    assert fitted > standard  # the mixture fits the codes better than N(0, I)
    z = model.sample_prior(4000, torch.Generator().manual_seed(0))
    torch.testing.assert_close(z.mean(0), codes.mean(0), atol=0.15, rtol=0)
    torch.testing.assert_close(z.std(0), codes.std(0), atol=0.15, rtol=0)
    images = run.sample(4, seed=1)
    z4 = model.sample_prior(4, torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(images, vae.model.decode(z4).mean.clamp(0, 1))
    assert torch.equal(model.encode_mean(x[:3]), vae.model.encode_mean(x[:3]))  # its codes
