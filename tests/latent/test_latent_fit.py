"""Inference without the encoder and image completion: one batched optimiser, any family."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.errors import ConfigError
from genlab.latent import (
    check_mask,
    complete,
    encoder_posterior,
    evaluate_elbo,
    fit_posterior,
    fit_progress,
    load_mask,
    make_mask,
)
from genlab.latent.fit import INIT_LOGVAR

ENCODER_MARGIN = 1.0
"""Nats per image the encoder-free fit may trail the encoder by, on average. A per-image fit has
no amortisation gap, so on the mnist-mini VAE it beats the encoder (by ~5 nats when measured);
the margin only absorbs Monte Carlo noise."""

FAST = {"steps": 300, "patience": 30}


@pytest.mark.slow
def test_inference_without_encoder_matches_the_encoder(vae):
    m, x = vae.model, vae.x
    fit = fit_posterior(m, x, seed=0)
    enc = evaluate_elbo(m, x, *encoder_posterior(m, x))
    assert fit.elbo.shape == enc.shape == (len(x),)
    assert float(fit.elbo.mean()) >= float(enc.mean()) - ENCODER_MARGIN
    assert bool(fit.stopped.all())  # every image stopped early, well before 1000 steps
    assert len(set(fit.steps.tolist())) > 1  # ...each at its own step


@pytest.mark.slow
def test_each_image_has_its_own_budget_and_the_decoder_is_restored(vae):
    m = vae.model
    m.train()
    flags = [p.requires_grad for p in m.parameters()]
    fit = fit_posterior(m, vae.x[:4], steps=5, patience=100)
    assert fit.steps.tolist() == [5, 5, 5, 5] and not bool(fit.stopped.any())
    assert m.training and [p.requires_grad for p in m.parameters()] == flags
    assert all(p.grad is None for p in m.parameters())
    m.eval()


@pytest.mark.slow
def test_progress_is_reported_per_step_inside_the_context_only(vae):
    seen: list[tuple[int, int]] = []
    with fit_progress(lambda step, steps: seen.append((step, steps))):
        fit = fit_posterior(vae.model, vae.x[:4], steps=7, patience=100)
    assert seen == [(k, 7) for k in range(1, 8)] and fit.steps.tolist() == [7] * 4
    fit_posterior(vae.model, vae.x[:2], steps=3)
    assert len(seen) == 7  # the context is over: nothing more is reported


@pytest.mark.slow
def test_fits_are_reproducible_with_a_seed(vae):
    a = fit_posterior(vae.model, vae.x[:8], seed=3, **FAST)
    b = fit_posterior(vae.model, vae.x[:8], seed=3, **FAST)
    assert torch.equal(a.mu, b.mu) and torch.equal(a.elbo, b.elbo)


@pytest.mark.slow
def test_a_hopeless_image_does_not_hold_back_the_others(vae):
    """Per-image stopping: an image far from the data keeps its own schedule."""
    x = vae.x[:6].clone()
    x[0] = 1.0 - x[0]  # an inverted digit
    fit = fit_posterior(vae.model, x, **FAST)
    alone = fit_posterior(vae.model, x[1:], **FAST)
    assert torch.allclose(fit.elbo[1:].mean(), alone.elbo.mean(), rtol=0.02)


@pytest.mark.slow
def test_fit_works_for_every_family(family):
    m, x = family.model, family.x[:16]
    fit = fit_posterior(m, x, **FAST)
    assert fit.mu.shape == fit.logvar.shape == (16, m.latent_dim)
    assert bool(torch.isfinite(fit.elbo).all())
    # The ELBO went up from where the fit starts: q at the prior mean.
    start = evaluate_elbo(m, x, *_prior_start(m, len(x)))
    assert float(fit.elbo.mean()) > float(start.mean())


def _prior_start(m, n):
    prior = m.prior()
    mean = prior.mean.expand(n, -1)
    return mean, (prior.variance.log() - 2.0).expand(n, -1)


@pytest.mark.slow
def test_encoder_posterior_only_for_gaussian_encoders(vae, ae, pca):
    assert encoder_posterior(vae.model, vae.x[:2]) is not None
    assert encoder_posterior(ae.model, ae.x[:2]) is None
    assert encoder_posterior(pca.model, pca.x[:2]) is None


@pytest.mark.slow
def test_conditional_fit_needs_labels(cvae):
    fit = fit_posterior(cvae.model, cvae.x[:4], cvae.y[:4], **FAST)
    assert bool(torch.isfinite(fit.elbo).all())
    with pytest.raises(ConfigError, match="conditional"):
        fit_posterior(cvae.model, cvae.x[:4])


@pytest.mark.slow
def test_the_class_mean_baseline_is_refused(mean):
    with pytest.raises(ConfigError, match="no latent space"):
        fit_posterior(mean.model, mean.x[:2])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["left", "centre", "random"])
def test_completion_never_changes_observed_pixels(family, kind):
    m, x = family.model, family.x[:8]
    mask = make_mask(kind, len(x), 28, 28, rate=0.6, generator=torch.Generator().manual_seed(0))
    done = complete(m, x, mask, **FAST)
    observed = mask.expand_as(x).bool()
    assert torch.equal(done.images[observed], x[observed])
    assert done.hidden_mse.shape == (8,)


@pytest.mark.slow
def test_completion_beats_a_blank_guess(vae):
    x = vae.x[:16]
    done = complete(vae.model, x, make_mask("left", 16, 28, 28))
    hidden = x[..., 14:]
    blank = hidden.square().flatten(1).mean(1)  # all-black right halves
    assert float(done.hidden_mse.mean()) < float(blank.mean())
    assert bool(torch.isfinite(done.fit.elbo).all())


def test_masks():
    left = make_mask("left", 3, 28, 28)
    assert left.shape == (1, 1, 28, 28)
    assert bool((left[..., :14] == 1).all()) and bool((left[..., 14:] == 0).all())
    top = make_mask("top", 1, 6, 4)
    assert top[0, 0, :, 0].tolist() == [1, 1, 1, 0, 0, 0]
    centre = make_mask("centre", 1, 28, 28, box=0.5)
    assert float(centre[..., 7:21, 7:21].sum()) == 0 and float(centre.mean()) == 0.75
    rand = make_mask("random", 50, 28, 28, rate=0.3, generator=torch.Generator().manual_seed(1))
    assert rand.shape == (50, 1, 28, 28) and abs(float(rand.mean()) - 0.7) < 0.02
    with pytest.raises(ConfigError, match="unknown mask"):
        make_mask("diagonal", 1, 28, 28)
    with pytest.raises(ConfigError, match="--rate"):
        make_mask("random", 1, 28, 28, rate=1.5)


@pytest.mark.slow
def test_masks_of_the_wrong_size_are_refused(tmp_path, vae):
    with pytest.raises(ConfigError, match="does not fit"):
        check_mask(torch.ones(1, 1, 27, 28), vae.x[:2])
    with pytest.raises(ConfigError, match="does not fit"):
        complete(vae.model, vae.x[:2], torch.ones(3, 1, 28, 28))
    path = tmp_path / "mask.png"
    Image.fromarray(np.full((32, 32), 255, dtype=np.uint8)).save(path)
    with pytest.raises(ConfigError, match="32x32 pixels"):
        load_mask(path, 28, 28)
    ok = np.zeros((28, 28), dtype=np.uint8)
    ok[:, :10] = 255
    Image.fromarray(ok).save(path)
    assert float(load_mask(path, 28, 28).sum()) == 28 * 10


def _by_hand_sgd(m, x, steps: int, lr: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seed 004's fit of one image written out: (mu, logvar) drawn from N(0, 1), then plain
    gradient steps on the one-sample ELBO, with the draws the fit takes from its generator."""
    from genlab.latent.fit import elbo_estimate

    gen = torch.Generator().manual_seed(seed)
    d = m.latent_dim
    p = torch.randn((1, 2 * d), generator=gen)
    for _ in range(steps):
        p.requires_grad_(True)
        mu, logvar = p.chunk(2, dim=1)  # a VAE's N(0, I) prior: whitened = plain coordinates
        (grad,) = torch.autograd.grad(-elbo_estimate(m, x, mu, logvar, generator=gen).sum(), p)
        p = (p - lr * grad).detach()
    return p.chunk(2, dim=1)


def test_sgd_from_normal_codes_is_seed_004s_fit_by_hand(vae):
    """With every step counted as an improvement (tol -inf) the fit keeps the parameters of
    its last step's evaluation: those after steps - 1 updates."""
    m, x = vae.model, vae.x[:1]
    fit = fit_posterior(m, x, steps=6, lr=1e-3, tol=-math.inf, patience=10**6, seed=3,
                        optimizer="sgd", init="normal")
    mu, logvar = _by_hand_sgd(m, x, steps=5, lr=1e-3, seed=3)
    torch.testing.assert_close(fit.mu, mu)
    torch.testing.assert_close(fit.logvar, logvar)
    start = fit_posterior(m, vae.x[:3], steps=1, tol=-math.inf, seed=3, init="normal")
    drawn = torch.randn((3, 2 * m.latent_dim), generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(torch.cat([start.mu, start.logvar], 1), drawn)
    mean = fit_posterior(m, vae.x[:3], steps=1, tol=-math.inf, seed=3)
    assert torch.equal(mean.mu, torch.zeros_like(mean.mu))
    assert torch.equal(mean.logvar, torch.full_like(mean.logvar, INIT_LOGVAR))


def test_sgd_from_normal_codes_raises_the_elbo(vae):
    m, x = vae.model, vae.x[:8]
    d = m.latent_dim
    drawn = torch.randn((8, 2 * d), generator=torch.Generator().manual_seed(0))
    before = evaluate_elbo(m, x, drawn[:, :d], drawn[:, d:])
    fit = fit_posterior(m, x, steps=200, lr=1e-3, patience=200, optimizer="sgd",
                        init="normal")
    assert bool((fit.elbo > before).all()), (fit.elbo - before)


@pytest.mark.parametrize(("options", "message"), [
    ({"optimizer": "rmsprop"}, r"fit optimizer 'rmsprop'; choose one of adam, sgd"),
    ({"init": "zeros"}, r"fit init 'zeros'; choose one of mean, normal"),
])
def test_unknown_fit_options_are_refused(vae, options, message):
    with pytest.raises(ConfigError, match=message):
        fit_posterior(vae.model, vae.x[:1], steps=1, **options)
