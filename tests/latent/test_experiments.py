"""The latent experiments called directly, as a report or an explorer would: no CLI, no files.

``torch.equal`` only where both sides are the same computation: copies of the input images,
seeded repeats, and the same decode of a batch of the same size on bit-identical codes
(``torch.lerp`` is exact at weights 0 and 1). The same codes decoded in batches of different
sizes, or in different rows of one batch, agree only to float32 rounding: the matrix products
may pick another kernel (MKL's AVX-512 sgemm does, by batch size: 1.7580e-04 against 1.7581e-04)
and sum in another order. Those are compared with :func:`close`, whose tolerance is stated.
"""

from __future__ import annotations

import math

import pytest
import torch

from genlab.errors import ConfigError
from genlab.latent import decode, encode
from genlab.latent import experiments as ex
from genlab.latent.moves import CENTROID_IMAGES
from genlab.latent.results import ExperimentResult

pytestmark = pytest.mark.slow  # every test uses the session's trained runs

FAST = ex.FitOptions(steps=40, patience=10)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def finite(value: object) -> bool:
    """Every number in a (nested) value of a result's ``numbers`` is finite."""
    if isinstance(value, torch.Tensor):
        return bool(torch.isfinite(value.float()).all())
    if isinstance(value, dict):
        return all(finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(finite(v) for v in value)
    return not isinstance(value, float) or math.isfinite(value)


def same(a: ExperimentResult, b: ExperimentResult) -> bool:
    return len(a.rows) == len(b.rows) and all(
        torch.equal(r, s) for r, s in zip(a.rows, b.rows, strict=True)
    )


def close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Decoded pixels (in [0, 1]) of the same codes, computed in batches of different sizes or
    in different rows of one batch: equal up to float32 rounding (about 2e-7 measured)."""
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-6)


def reconstruction(trained, sel):
    return decode(trained.model, encode(trained.model, sel.x, sel.y), sel.y)


def test_training_codes_are_images_spread_over_the_training_split(vae):
    pool = ex.training_codes(vae.run, limit=300)
    split = vae.run.config.data.train_split
    assert pool.codes.shape == (300, vae.model.latent_dim)
    assert pool.indices.tolist() == vae.run.spread(split, 300)
    train = vae.run.dataset.split(split)
    assert torch.equal(pool.labels.cpu(), train.labels[pool.indices])


def test_perturb_rows_identities_and_numbers(vae):
    sel = vae.run.select("test", n=4)
    result = ex.perturb(vae.run, sel, [0.0, 0.5, 2.0], gen())
    assert len(result.rows) == 5 and all(r.shape == (4, *vae.model.shape) for r in result.rows)
    assert result.row_labels[:2] == ["original", "reconstruction"]
    assert result.col_labels == sel.captions and torch.equal(result.rows[0], sel.x)
    close(result.rows[2], result.rows[1])  # sigma 0 is the reconstruction: batch 12 vs 4
    numbers = result.numbers
    assert {"selection", "labels", "sigmas", "pixel_mse_vs_reconstruction",
            "code_shift_norm"} <= set(numbers) and finite(numbers)
    shift = numbers["code_shift_norm"]
    assert shift.shape == (3, 4) and torch.equal(shift[0], torch.zeros(4))
    assert bool((shift[2] > shift[1]).all())  # one direction per image, growing with sigma


def test_the_same_seed_gives_the_same_result(vae):
    sel = vae.run.select("test", index=[3, 1, 4])
    a, b = (ex.perturb(vae.run, sel, [1.0], gen(7)) for _ in range(2))
    assert same(a, b) and not same(a, ex.perturb(vae.run, sel, [1.0], gen(8)))
    c, d = (ex.toward_class(vae.run, sel, 7, [0.5], 0.3, generator=gen(2)) for _ in range(2))
    assert same(c, d) and torch.equal(c.numbers["target_train_indices"],
                                      d.numbers["target_train_indices"])


def test_interpolation_rows_end_in_exact_reconstructions(vae):
    anchor = vae.run.select("test", index=[0])
    others = ex.interpolation_partners(vae.run, "test", int(anchor.y[0]))
    assert int(anchor.y[0]) not in others.y.tolist()
    assert sorted(others.y.tolist()) == others.y.tolist() and len(others) == 9
    result = ex.interpolate(vae.run, anchor, others, steps=5, method="slerp")
    assert len(result.rows) == len(others) and len(result.col_labels) == 7
    frames = torch.stack(result.rows)  # (K, 1 + steps + 1, C, H, W)
    assert frames.shape[:2] == (len(others), 7)
    assert torch.equal(frames[:, 0], others.x) and bool((frames[:, -1] == anchor.x).all())
    # the path's codes are encoded in a batch of 10 (with the anchor) and decoded in one of 45
    close(frames[:, 1], reconstruction(vae, others))
    close(frames[:, -2], reconstruction(vae, anchor).expand(len(others), -1, -1, -1))
    assert result.numbers["code_norms"].shape == (len(others), 5) and finite(result.numbers)
    with pytest.raises(ConfigError, match="one anchor image"):
        ex.interpolate(vae.run, vae.run.select("test", n=2), others)


def test_conditional_interpolation_switches_labels_half_way(cvae):
    anchor = cvae.run.select("test", index=[0])
    others = cvae.run.select("test", index=[1, 2])
    frames = torch.stack(ex.interpolate(cvae.run, anchor, others, steps=4).rows)
    close(frames[:, 1], reconstruction(cvae, others))  # encoded in a batch of 3, decoded in 8
    close(frames[:, -2], reconstruction(cvae, anchor).expand(2, -1, -1, -1))


def test_centroid_moves_from_the_reconstruction_to_the_class_mean(family):
    sel = family.run.select("test", cls="3", n=3)
    result = ex.centroid(family.run, sel, [0.0, 1.0])
    original, at_zero, at_one = result.rows
    assert torch.equal(original, sel.x)
    close(at_zero, reconstruction(family, sel))  # both alphas in a batch of 6, not 3
    close(at_one, at_one[:1].expand_as(at_one))  # one centroid, decoded in different rows
    counts = result.numbers["centroid_images_per_class"]
    train = family.run.dataset.split(family.run.config.data.train_split)
    assert int(counts.sum()) == min(CENTROID_IMAGES, len(train)) and finite(result.numbers)


def test_centroid_needs_labelled_images(vae, tmp_path):
    from PIL import Image

    path = tmp_path / "blank.png"
    Image.new("L", (28, 28)).save(path)
    with pytest.raises(ConfigError, match="labelled images"):
        ex.centroid(vae.run, vae.run.select(files=[str(path)]), [0.5])


def test_toward_class_without_noise_reaches_its_target(vae):
    sel = vae.run.select("test", n=4)
    result = ex.toward_class(vae.run, sel, "7", [0.0, 1.0], noise=0.0, generator=gen(1))
    original, target, at_zero, at_one = result.rows
    assert torch.equal(original, sel.x)
    close(at_zero, reconstruction(vae, sel))  # both alphas in a batch of 8, not 4
    close(at_one, target)  # at_one decoded in a batch of 8, the target in one of 4
    picked = result.numbers["target_train_indices"]
    train = vae.run.dataset.split(vae.run.config.data.train_split)
    assert picked.shape == (4,) and bool((train.labels[picked] == 7).all())
    assert result.numbers["target_class"] == 7 and result.numbers["target_name"] == "7"
    centroid = ex.toward_class(vae.run, sel, 7, [1.0], noise=0.0, use_centroid=True)
    assert centroid.numbers["target_train_indices"] is None
    close(centroid.rows[1][0], centroid.rows[1][3])  # one goal for every image, other rows
    with pytest.raises(ConfigError, match="unknown class"):
        ex.toward_class(vae.run, sel, "eleven", [1.0])


def test_blend_weights_and_flips(family):
    a = family.run.select("test", cls="1", n=3)
    b = family.run.select("test", cls="7", n=3)
    whole_a = ex.blend(family.run, a, b, w=1.0)
    # w = 1 is z_a bit for bit (lerp), decoded like "A decoded" in a batch of 3: exact
    assert torch.equal(whole_a.rows[4], whole_a.rows[1])
    whole_b = ex.blend(family.run, a, b, w=0.0)
    close(whole_b.rows[4], whole_b.rows[3])  # w = 0: B decoded (exactness promised at w = 1)
    flipped = ex.blend(family.run, a, b, w=0.5, flip=[1], flip_dims=[0])
    assert flipped.row_labels[3] == "B decoded (sign flips)"
    assert flipped.numbers["flip"] == [1] and flipped.numbers["flip_dims"] == [0]
    assert finite(flipped.numbers["result_code_norm"])
    with pytest.raises(ConfigError, match="out of range"):
        ex.blend(family.run, a, b, flip=[3])
    with pytest.raises(ConfigError, match="equally many"):
        ex.blend(family.run, a, family.run.select("test", n=2))


def test_arithmetic_with_no_direction_is_the_reconstruction(vae):
    a = vae.run.select("test", n=3)
    b = vae.run.select("test", cls="5", n=4)
    result = ex.arithmetic(vae.run, a, b, b)
    assert result.numbers["mode"] == "arithmetic" and float(result.numbers["direction_norm"]) == 0
    # B - C is exactly 0 (the same batch encoded twice), so A + 0 decodes as A does, in a
    # batch of the same size: exact
    assert torch.equal(result.rows[2], result.rows[1])


def test_quantile_grid_and_prior_samples(vae2d, vae, mean):
    result = ex.grid(vae2d.run, 4)
    assert len(result.rows) == 4 and all(r.shape == (4, *vae2d.model.shape) for r in result.rows)
    z1, z2 = result.numbers["z1"], result.numbers["z2"]
    assert bool((z1.diff() > 0).all()) and bool((z2.diff() < 0).all())  # z1 →, z2 ↑
    assert result.col_labels == [f"{v:.2f}" for v in z1.tolist()]
    a, b = (ex.grid(vae.run, 3, prior=True, generator=gen(5)) for _ in range(2))
    assert same(a, b) and a.row_labels is None and a.numbers == {"mode": "prior samples", "n": 3}
    with pytest.raises(ConfigError, match="2-D latent space"):
        ex.grid(vae.run, 3)
    with pytest.raises(ConfigError, match="at least 2 points"):
        ex.grid(vae2d.run, 1)
    with pytest.raises(ConfigError, match="no latent space"):
        ex.grid(mean.run, 3, prior=True)


def test_conditional_grid_decodes_with_one_label(cvae):
    result = ex.grid(cvae.run, 2, prior=True, label="5", generator=gen())
    assert result.numbers["label"] == 5 and len(result.rows) == 2


def test_latent_map_keeps_the_selection(vae2d):
    sel = vae2d.run.select("test", index=[9, 2, 5, 7])
    result = ex.latent_map(vae2d.run, sel)
    assert result.projection.method == "raw" and result.projection.coords.shape == (4, 2)
    assert result.indices == [9, 2, 5, 7] and torch.equal(result.labels, sel.y)
    assert result.class_names == vae2d.run.class_names
    assert result.numbers["images"] == 4 and result.numbers["axes"] == ("z1", "z2")


def test_infer_compares_with_the_encoder_where_there_is_one(vae, pca):
    sel = vae.run.select("test", n=3)
    result = ex.infer(vae.run, sel, FAST)
    assert len(result.rows) == 3 and all(r.shape == sel.x.shape for r in result.rows)
    numbers = result.numbers
    assert {"elbo_without_encoder", "elbo_with_encoder", "mean_gain_over_encoder",
            "fit_steps", "fit_seed"} <= set(numbers) and finite(numbers)
    assert numbers["fit_steps"] == 40 and bool((numbers["steps"] <= 40).all())
    point = ex.infer(pca.run, pca.run.select("test", n=3), FAST)  # PCA codes have no ELBO
    assert len(point.rows) == 3 and "elbo_with_encoder" not in point.numbers


def test_completion_keeps_observed_pixels_and_greys_hidden_ones(family):
    sel = family.run.select("test", n=3)
    mask, what = ex.completion_mask(family.run, len(sel), "left")
    assert what == "left half observed"
    result = ex.complete(family.run, sel, mask, FAST, what)
    original, observed, completed = result.rows
    keep = mask.bool().expand_as(sel.x)
    assert torch.equal(completed[keep], original[keep])
    assert bool((observed[~keep] == ex.HIDDEN_GREY).all())
    assert result.numbers["observed_fraction"].tolist() == [0.5] * 3
    assert result.title == "completion, left half observed" and finite(result.numbers)


@pytest.mark.slow  # its fixture trains a PixelCNN for an epoch (about 15 CPU-seconds)
def test_an_autoregressive_model_completes_in_raster_order_without_a_fit(pixelcnn):
    sel = pixelcnn.run.select("test", n=3)
    mask, what = ex.completion_mask(pixelcnn.run, len(sel), "top")
    result = ex.complete(pixelcnn.run, sel, mask, FAST, what, gen(0))
    original, _, completed = result.rows
    keep = mask.bool().expand_as(sel.x)
    assert torch.equal(completed[keep], original[keep])
    assert set(completed[~keep].unique().tolist()) <= {0.0, 1.0}  # drawn binary pixels
    again = ex.complete(pixelcnn.run, sel, mask, FAST, what, gen(0))
    assert torch.equal(again.rows[2], completed) and "no fit" in result.numbers["objective"]
    left, _ = ex.completion_mask(pixelcnn.run, len(sel), "left")
    with pytest.raises(ConfigError, match="needs every hidden pixel after every observed"):
        ex.complete(pixelcnn.run, sel, left, FAST, "left", gen(0))


def test_random_masks_follow_the_generator(vae):
    a, what = ex.completion_mask(vae.run, 2, "random", rate=0.3, generator=gen(4))
    b, _ = ex.completion_mask(vae.run, 2, "random", rate=0.3, generator=gen(4))
    assert a.shape == (2, 1, 28, 28) and torch.equal(a, b) and what == "30% of pixels hidden"
