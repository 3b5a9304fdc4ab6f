"""The VQ-VAE (``families/autoencoders/vqvae.py``): the straight-through and commitment
gradients against their formulas, the codebook's EMA step taken by ``train_step``, the
discrete grid with its uniform prior, the paper's bound against the exact marginal of a model
with a one-position grid, and the refused options."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from genlab.errors import ConfigError
from genlab.models.core.base import Batch
from genlab.models.families.autoencoders.vqvae import VQVAE, VQVAEConfig
from genlab.models.registry import build_model

SHAPE = (1, 28, 28)


def _model(**options) -> VQVAE:
    torch.manual_seed(0)
    config = VQVAEConfig(name="vqvae", **{**VQVAE.tiny, **options})
    config.validate()
    return build_model(config, SHAPE, 10)  # type: ignore[return-value]


def _batch(n: int = 6) -> Batch:
    g = torch.Generator().manual_seed(1)
    return Batch((torch.rand(n, *SHAPE, generator=g) > 0.5).float(), torch.arange(n) % 10)


def test_the_encoder_gets_the_decoders_gradient_at_z_q_plus_the_commitments() -> None:
    """d loss / d z_e = d(-log p(x | z_q)) / d z_q (straight through) + 2 beta (z_e - z_q) / N."""
    model, batch, beta = _model(beta=0.25).eval(), _batch(), 0.25
    seen: dict[str, torch.Tensor] = {}

    def keep_grad(_module: object, _inputs: object, out: torch.Tensor) -> None:
        out.register_hook(lambda g: seen.setdefault("grad", g))

    handle = model.encoder.register_forward_hook(keep_grad)
    model.loss(batch).total.backward()
    handle.remove()
    with torch.no_grad():
        z_e = model.encoder(batch.x)
    z_q = model.quantiser.lookup(model.quantiser.nearest(z_e)).requires_grad_()
    (-model.likelihood(model.decoder(z_q)).log_prob(batch.x).mean()).backward()
    expected = z_q.grad + 2 * beta * (z_e - z_q.detach()) / len(batch.x)
    torch.testing.assert_close(seen["grad"], expected)
    assert not model.quantiser.codebook.requires_grad  # learnt by EMA, not by gradients


def test_the_commitment_term_is_the_squared_distance_to_the_nearest_codes() -> None:
    model, batch = _model().eval(), _batch()
    with torch.no_grad():
        out = model.loss(batch)
        rows = model.encoder(batch.x).permute(0, 2, 3, 1).reshape(len(batch.x), -1, 4)
        nearest = torch.cdist(rows, model.quantiser.codebook.expand(len(rows), -1, -1))
    expected = nearest.min(-1).values.square().sum(1).mean()
    torch.testing.assert_close(out.terms["commitment"], expected)
    torch.testing.assert_close(out.total, out.terms["nll"] + 0.25 * expected)


def test_a_training_step_updates_the_codebook_by_its_ema_step_on_the_batch() -> None:
    model, batch = _model(), _batch()
    reference = copy.deepcopy(model)
    losses = []
    torch.manual_seed(5)
    model.train_step(batch, lambda player, out: losses.append((player, out.total)), 1)
    torch.manual_seed(5)
    _, z_e, indices = reference.objective(batch)
    reference.quantiser.update(z_e, indices)
    assert [p for p, _ in losses] == ["model"]
    for name, value in reference.quantiser.state_dict().items():
        assert torch.equal(model.quantiser.state_dict()[name], value), name


def test_the_code_space_is_a_discrete_grid_under_a_uniform_prior() -> None:
    model = _model()
    space = model.latent_space
    assert space.describe() == "discrete 7x7 grid of 16 codes" and model.latent_dim == 49
    z = model.sample_prior(400, torch.Generator().manual_seed(0))
    assert z.shape == (400, 7, 7) and z.dtype == torch.long
    assert torch.equal(z, model.sample_prior(400, torch.Generator().manual_seed(0)))
    counts = torch.bincount(z.flatten(), minlength=16).double() / z.numel()
    torch.testing.assert_close(counts, torch.full((16,), 1 / 16, dtype=torch.float64),
                               atol=0.01, rtol=0)
    log_pz = model.prior().log_prob(z[:3].flatten(1))
    torch.testing.assert_close(log_pz, torch.full((3,), -49 * math.log(16)))
    x = _batch().x
    assert torch.equal(model.encode(x), model.encode_mean(x))  # a point code: the indices
    assert model.reconstruct(x).shape == x.shape


def test_the_likelihood_is_the_papers_bound_below_the_exact_marginal() -> None:
    """A grid of one position (four stages: 28 -> 1) of K = 8 codes: log p(x) = log sum_k
    p(x | k) / K exactly, which the bound log p(x | z_q(x)) - log K must not exceed."""
    model, x = _model(channels=[4, 4, 4, 4], codebook_size=8).eval(), _batch().x
    assert model.latent_space.shape == (1, 1)
    bound = model.log_likelihood(x)
    with torch.no_grad():
        direct = model.decode(model.encode(x)).log_prob(x).double() - math.log(8)
        codes = torch.arange(8).view(8, 1, 1)
        log_px = torch.stack([model.decode(codes).log_prob(xi.expand(8, *SHAPE)) for xi in x])
    torch.testing.assert_close(bound, direct)
    exact = log_px.double().logsumexp(1) - math.log(8)
    assert torch.all(bound <= exact + 1e-9) and bound.dtype == torch.float64
    assert "-2.1 nats" in model.likelihood_method(1)  # h w log K = log 8


@pytest.mark.parametrize(("options", "words"), [
    ({"net": "mlp"}, "model.net='mlp'"),
    ({"codebook_size": 1}, "model.codebook_size"),
    ({"decay": 1.0}, "model.decay"),
    ({"beta": -1.0}, "model.beta"),
    ({"hidden": [32]}, "model.hidden"),
])
def test_bad_options_are_refused_naming_the_key(options: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace(".", r"\.")):
        VQVAEConfig(name="vqvae", **options).validate()


def test_an_image_too_small_for_the_stages_is_refused() -> None:
    with pytest.raises(ConfigError, match="too small"):
        _model(channels=[4, 4, 4, 4, 4, 4])


@pytest.mark.slow
def test_training_on_mnist_mini_learns_and_spreads_over_the_codebook(tmp_path) -> None:
    """Three epochs of the tiny model: the reconstruction improves and the images use a good
    part of the 16 codes (measured: perplexity 4.8, 8.2, 7.8; 7.2 at the end without restarts)."""
    import genlab

    result = genlab.train({
        "model": {"name": "vqvae", **VQVAE.tiny},
        "data": {"dataset": "mnist-mini", "binarize": "dynamic", "val_size": 8000},
        "train": {"epochs": 3, "batch_size": 100, "progress": False, "seed": 0,
                  "device": "cpu", "epoch_samples": 0}}, out=tmp_path / "vqvae")
    first, last = result.history[0], result.history[-1]
    assert last["val/nll"] < first["val/nll"] - 50
    assert last["val/perplexity"] > 6
    assert last["val/neg_bound"] == pytest.approx(last["val/nll"] + 49 * math.log(16), rel=1e-5)
