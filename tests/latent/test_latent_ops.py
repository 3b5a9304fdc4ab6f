"""Identities of the latent moves, on raw tensors and through trained models of every family."""

from __future__ import annotations

import pytest
import torch

from genlab.errors import ConfigError
from genlab.latent import (
    arithmetic,
    blend,
    class_centroids,
    decode,
    encode,
    flip_signs,
    interpolate,
    lerp,
    perturb,
    pick,
    slerp,
    toward,
    toward_noisy,
)


def codes(n: int = 6, d: int = 5, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


# --- pure tensor identities -----------------------------------------------------------------
@pytest.mark.parametrize("method", ["lerp", "slerp"])
def test_interpolation_includes_both_ends_exactly(method):
    z0, z1 = codes(seed=1), codes(seed=2, scale=3.0)
    path = interpolate(z0, z1, 7, method)
    assert path.shape == (7, 6, 5)
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)


def test_slerp_norm_stays_between_the_end_points_norms():
    z0, z1 = codes(200, 16, seed=3, scale=0.5), codes(200, 16, seed=4, scale=3.0)
    z1[:10] = 2.5 * z0[:10]  # parallel pairs
    z1[10:20] = -z0[10:20] * 4  # antiparallel pairs
    norms = slerp(z0, z1, 11).norm(dim=-1)
    lo = torch.minimum(z0.norm(dim=-1), z1.norm(dim=-1))
    hi = torch.maximum(z0.norm(dim=-1), z1.norm(dim=-1))
    assert bool(((norms >= lo - 1e-5) & (norms <= hi + 1e-5)).all())
    assert bool(torch.isfinite(norms).all())


def test_slerp_of_equal_norms_stays_on_the_sphere_and_differs_from_lerp():
    z0 = torch.tensor([[1.0, 0.0]])
    z1 = torch.tensor([[0.0, 1.0]])
    mid = slerp(z0, z1, 3)[1]
    assert torch.allclose(mid, torch.tensor([[2**-0.5, 2**-0.5]]), atol=1e-6)
    assert torch.allclose(lerp(z0, z1, 3)[1], torch.tensor([[0.5, 0.5]]))


def test_interpolation_rejects_bad_options():
    with pytest.raises(ConfigError, match="at least 2 steps"):
        lerp(codes(), codes(), 1)
    with pytest.raises(ConfigError, match="unknown interpolation"):
        interpolate(codes(), codes(), 3, "cubic")


def test_perturb_sigma_zero_is_identity_and_noise_has_the_asked_scale():
    z = codes(4000, 8)
    moved = perturb(z, [0.0, 0.5, 2.0], torch.Generator().manual_seed(0))
    assert torch.equal(moved[0], z)
    assert abs(float((moved[1] - z).std()) - 0.5) < 0.02
    assert torch.allclose((moved[2] - z) / 2.0, (moved[1] - z) / 0.5, atol=1e-5)  # one eps
    again = perturb(z, [0.0, 0.5, 2.0], torch.Generator().manual_seed(0))
    assert torch.equal(moved, again)


def test_class_centroids_and_moves_toward_them():
    z = torch.tensor([[0.0, 0.0], [2.0, 2.0], [4.0, 0.0]])
    y = torch.tensor([0, 0, 2])
    centroids, counts = class_centroids(z, y, 3)
    assert torch.equal(centroids[0], torch.tensor([1.0, 1.0]))
    assert counts.tolist() == [2, 0, 1] and bool(centroids[1].isnan().all())
    moved = toward(z, centroids[y], [0.0, 0.5, 1.0])
    assert torch.equal(moved[0], z) and torch.equal(moved[2], centroids[y])
    with pytest.raises(ConfigError, match="undefined"):
        toward(z, centroids[torch.tensor([1, 1, 1])], [0.5])


def test_noisy_moves_keep_alpha_zero_and_reach_the_target_without_noise():
    z, target = codes(seed=5), codes(seed=6)
    moved = toward_noisy(z, target, [0.0, 1.0], noise=0.3, generator=torch.Generator())
    assert torch.equal(moved[0], z) and not torch.allclose(moved[1], target)
    exact = toward_noisy(z, target, [0.0, 1.0], noise=0.0)
    assert torch.equal(exact[1], target)


def test_pick_draws_from_the_pool():
    idx = pick(codes(5), 100, torch.Generator().manual_seed(0))
    assert idx.shape == (100,) and int(idx.min()) >= 0 and int(idx.max()) < 5
    with pytest.raises(ConfigError, match="empty"):
        pick(torch.zeros(0, 3), 2)


def test_blend_weights_flips_and_arithmetic():
    za, zb = codes(seed=7), codes(seed=8)
    assert torch.equal(blend(za, zb, 1.0), za)
    assert torch.allclose(blend(za, zb, 0.6), 0.6 * za + 0.4 * zb, atol=1e-6)
    flip = torch.tensor([True, False, False, False, False, True])
    flipped = flip_signs(zb, flip)
    assert torch.equal(flipped[0], -zb[0]) and torch.equal(flipped[1], zb[1])
    assert torch.equal(blend(za, zb, 0.0, flip), flipped)
    dims = torch.tensor([False, True, False, False, False])
    assert torch.equal(flip_signs(zb, dims=dims)[:, 1], -zb[:, 1])
    one = blend(za, zb[:1], 0.5)  # one B code blended into every A
    assert torch.allclose(one, 0.5 * (za + zb[:1]))
    assert torch.equal(arithmetic(za, zb, zb), za)


# --- through trained models -------------------------------------------------------------------
# Exact: each side decodes a batch of the same size through the same calls (encode_mean, decode,
# render) from bit-identical codes, so the kernels and their summation order are the same. A
# decode in a batch of another size would agree only to rounding (see test_experiments.close).
@pytest.mark.slow
def test_zero_moves_decode_to_the_plain_reconstruction(family):
    m, x, y = family.model, family.x[:8], family.y[:8]
    recon = m.reconstruct(x)
    z = encode(m, x, y)
    noisy = perturb(z, [0.0, 1.0], torch.Generator().manual_seed(0))
    assert torch.equal(decode(m, noisy[0], y), recon)
    moved = toward(z, z.flip(0), [0.0])
    assert torch.equal(decode(m, moved[0], y), recon)


@pytest.mark.slow
def test_alpha_one_toward_the_centroid_decodes_the_centroid(family):
    m, x, y = family.model, family.x, family.y
    z = encode(m, x, y)
    centroids, _ = class_centroids(z, y, m.num_classes)
    moved = toward(z, centroids[y], [0.0, 1.0])
    assert torch.equal(decode(m, moved[1], y), decode(m, centroids[y], y))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lerp", "slerp"])
def test_interpolation_end_points_decode_to_their_reconstructions(family, method):
    m, x = family.model, family.x
    z = encode(m, x[:5])
    path = interpolate(z, encode(m, x[5:10]), 6, method)
    assert torch.equal(decode(m, path[0]), m.reconstruct(x[:5]))
    assert torch.equal(decode(m, path[-1]), m.reconstruct(x[5:10]))


@pytest.mark.slow
def test_blend_with_w_one_equals_the_first_selection(family):
    m, x = family.model, family.x
    za, zb = encode(m, x[:6]), encode(m, x[6:12])
    flip = torch.tensor([True, False, True, False, False, False])
    assert torch.equal(decode(m, blend(za, zb, 1.0, flip)), m.reconstruct(x[:6]))


@pytest.mark.slow
def test_conditional_models_use_labels(cvae):
    m, x, y = cvae.model, cvae.x[:6], cvae.y[:6]
    z = encode(m, x, y)
    path = interpolate(z, encode(m, cvae.x[6:12], cvae.y[6:12]), 4, "slerp")
    assert torch.equal(decode(m, path[0], y), m.reconstruct(x, y))
    with pytest.raises(ConfigError, match="conditional"):
        encode(m, x)
    with pytest.raises(ConfigError, match="conditional"):
        decode(m, z, torch.full_like(y, -1))


@pytest.mark.slow
def test_the_class_mean_baseline_is_refused(mean):
    with pytest.raises(ConfigError, match="no encoder"):
        encode(mean.model, mean.x)
    with pytest.raises(ConfigError, match="no latent space"):
        decode(mean.model, torch.zeros(2, 3))
