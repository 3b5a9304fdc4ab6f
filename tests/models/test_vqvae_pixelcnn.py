"""The PixelCNN prior over a VQ-VAE's code grid (``families/two_stage/vqvae_pixelcnn.py``), on
a first stage with a 3 x 3 grid of K = 2 codes, whose 512 grids can all be listed: p(z) sums to
one over them, log p(z) is the chain of conditionals computed position by position with the
later positions scrambled (the masks hide them), the likelihood is the bound computed directly
and lies below the exact marginal log sum_z p(x | z) p(z); the sampler draws each conditional's
probabilities and, cold, its argmax chain; a first stage that is not a discrete grid is refused."""

from __future__ import annotations

import itertools

import pytest
import torch

from genlab.errors import ConfigError
from genlab.models.core.sampling import TemperatureOptions
from genlab.models.families.autoencoders.vae import VAE, VAEConfig
from genlab.models.families.autoencoders.vqvae import VQVAE, VQVAEConfig
from genlab.models.families.two_stage.vqvae_pixelcnn import VQPixelCNN, VQPixelCNNConfig
from genlab.models.registry import build_model

SHAPE = (1, 28, 28)


def _stage(channels: list[int], codes: int) -> VQVAE:
    torch.manual_seed(0)
    config = VQVAEConfig(name="vqvae", channels=channels, codebook_size=codes, code_dim=2)
    return build_model(config, SHAPE, 10).eval()  # type: ignore[return-value]


def _prior(stage, **options) -> VQPixelCNN:
    torch.manual_seed(1)
    config = VQPixelCNNConfig(name="vqvae-pixelcnn", first_stage="run", layers=2, features=8,
                              embedding=4, **options)
    config.validate()
    return build_model(config, SHAPE, 10, {"first_stage": stage}).eval()  # type: ignore


@pytest.fixture(scope="module")
def small() -> VQPixelCNN:
    """A 3 x 3 grid of 2 codes: 512 grids."""
    return _prior(_stage([4, 8, 8], 2))


def _all_grids() -> torch.Tensor:
    return torch.tensor(list(itertools.product((0, 1), repeat=9))).view(512, 3, 3)


def _images(n: int = 3) -> torch.Tensor:
    return (torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(2)) > 0.5).float()


def test_the_prior_sums_to_one_over_every_grid(small: VQPixelCNN) -> None:
    with torch.no_grad():
        log_pz = small.code_log_prob(_all_grids()).double()
    torch.testing.assert_close(log_pz.logsumexp(0), torch.zeros((), dtype=torch.float64),
                               atol=1e-5, rtol=0)


def test_log_pz_is_the_chain_of_conditionals_each_blind_to_later_positions(
        small: VQPixelCNN) -> None:
    z = _all_grids()[torch.randperm(512, generator=torch.Generator().manual_seed(3))[:8]]
    g = torch.Generator().manual_seed(4)
    chain = torch.zeros(8, dtype=torch.float64)
    with torch.no_grad():
        for p in range(9):
            i, j = divmod(p, 3)
            scrambled = z.clone().flatten(1)
            scrambled[:, p + 1:] = torch.randint(2, (8, 8 - p), generator=g)
            logits = small.net(scrambled.view(8, 3, 3))[:, :, i, j]
            chain += logits.log_softmax(-1).gather(1, z[:, i, j, None])[:, 0].double()
        torch.testing.assert_close(small.code_log_prob(z).double(), chain)


def test_the_likelihood_is_the_bound_and_below_the_exact_marginal(small: VQPixelCNN) -> None:
    x = _images()
    bound = small.log_likelihood(x)
    with torch.no_grad():
        z = small.stage.encode(x)
        direct = (small.stage.decode(z).log_prob(x) + small.code_log_prob(z)).double()
        grids = _all_grids()
        log_pz = small.code_log_prob(grids).double()
        exact = torch.stack([(small.decode(grids).log_prob(xi.expand(512, *SHAPE)).double()
                              + log_pz).logsumexp(0) for xi in x])
    assert bound.dtype == torch.float64
    torch.testing.assert_close(bound, direct)
    assert torch.all(bound <= exact + 1e-6)
    assert small.likelihood_scale("dynamic") == small.stage.likelihood_scale("dynamic")


def test_seeded_draws_repeat_and_cold_draws_are_the_argmax_chain(small: VQPixelCNN) -> None:
    a = small.draw_codes(6, generator=torch.Generator().manual_seed(0))
    assert a.shape == (6, 3, 3) and a.dtype == torch.long
    assert torch.equal(a, small.draw_codes(6, generator=torch.Generator().manual_seed(0)))
    cold = small.draw_codes(2, generator=torch.Generator().manual_seed(0), temperature=1e-4)
    greedy = torch.zeros(1, 3, 3, dtype=torch.long)
    with torch.no_grad():
        for i, j in itertools.product(range(3), range(3)):
            greedy[0, i, j] = small.net(greedy)[0, :, i, j].argmax()
    assert torch.equal(cold, greedy.expand(2, 3, 3))
    images = small.sample(2, generator=torch.Generator().manual_seed(0),
                          options=TemperatureOptions(temperature=0.5))
    assert images.shape == (2, *SHAPE) and images.min() >= 0 and images.max() <= 1


def test_draws_follow_the_conditionals_probabilities() -> None:
    """A one-position grid (four stages) whose logits are the head's bias alone."""
    prior = _prior(_stage([4, 4, 4, 4], 4))
    head = prior.net.head[-1]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.tensor([1.5, 0.0, -1.0, 0.5]))
    z = prior.draw_codes(8000, generator=torch.Generator().manual_seed(5))
    freq = torch.bincount(z.flatten(), minlength=4).float() / 8000
    torch.testing.assert_close(freq, head.bias.detach().softmax(0), atol=0.015, rtol=0)


def test_a_class_conditional_prior_needs_and_uses_the_labels(small: VQPixelCNN) -> None:
    prior = _prior(small.stage, class_conditional=True)
    z = _all_grids()[:4]
    with pytest.raises(ConfigError, match="class-conditional"):
        prior.code_log_prob(z)
    with torch.no_grad():
        zero, three = (prior.code_log_prob(z, torch.full((4,), c)) for c in (0, 3))
    assert not torch.allclose(zero, three)
    assert prior.sample(3, labels=torch.tensor(7)).shape == (3, *SHAPE)


def test_a_first_stage_without_a_discrete_grid_is_refused_in_one_line() -> None:
    vae = build_model(VAEConfig(name="vae", **VAE.tiny), SHAPE, 10)
    with pytest.raises(ConfigError) as caught:
        _prior(vae)
    message = str(caught.value)
    assert "\n" not in message and "model.first_stage" in message
    assert "'vae' model" in message and "continuous (4,)" in message


def test_the_space_is_the_first_stages_and_its_prior_has_no_closed_form(
        small: VQPixelCNN) -> None:
    assert small.latent_space == small.stage.latent_space  # shape, kind, levels
    z = small.latent_space.sample(2, torch.Generator().manual_seed(0))
    assert torch.equal(z, small.draw_codes(2, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ConfigError, match="autoregressive"):
        small.prior()
