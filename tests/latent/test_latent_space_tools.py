"""The latent tools read the declared latent space: a discrete space is refused in one line by
every experiment that adds, interpolates or averages codes, and a continuous (c, h, w) space
flows through encode, the moves and decode in its own shape."""

from __future__ import annotations

import pytest
import torch

from genlab.errors import ConfigError
from genlab.evaluation.believability import PerturbationSettings, run_experiments
from genlab.latent import experiments as ex
from genlab.latent import ops
from genlab.latent.maps import project_2d
from genlab.latent.requirements import REQUIREMENTS
from genlab.models.registry import MODELS, build_model, model_config_class
from latentspaces import GRID_SPACE, fake_families, in_memory  # noqa: F401 (a fixture)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def grid(fake_families, tmp_path_factory):  # noqa: F811
    return in_memory("poster-grid", tmp_path_factory.mktemp("grid"))


@pytest.fixture(scope="module")
def pooled(fake_families, tmp_path_factory):  # noqa: F811
    return in_memory("pooled-code", tmp_path_factory.mktemp("pooled"))


def _experiments(run):
    sel = run.select("test", 3)
    other = run.select("test", index=[5])
    mask = torch.ones(1, 1, 28, 28)
    mask[..., 14:] = 0
    return {
        "perturb": lambda: ex.perturb(run, sel, [0.5], gen()),
        "interpolate": lambda: ex.interpolate(run, other, sel, 3, "slerp"),
        "centroid": lambda: ex.centroid(run, sel, [0.5]),
        "toward-class": lambda: ex.toward_class(run, sel, 7, [0.5], generator=gen()),
        "blend": lambda: ex.blend(run, sel, other),
        "latent arithmetic": lambda: ex.arithmetic(run, sel, other, other),
        "the manifold grid": lambda: ex.grid(run, 3),
        "map": lambda: ex.latent_map(run, run.select("test", 20), "pca"),
        "infer": lambda: ex.infer(run, sel, ex.FitOptions(steps=2)),
        "complete": lambda: ex.complete(run, sel, mask, ex.FitOptions(steps=2)),
    }


def test_every_continuous_experiment_refuses_a_discrete_space_in_one_line(grid):
    calls = _experiments(grid)
    assert set(calls) == {k for k, r in REQUIREMENTS.items() if r.space.continuous} - {
        "the sliders"}
    for op, call in calls.items():
        with pytest.raises(ConfigError) as refused:
            call()
        message = str(refused.value)
        assert message.startswith(f"{op} needs a ") and "\n" not in message, message
        assert f"latent space, but the 'poster-grid' model's is {GRID_SPACE}" in message


def test_the_study_s_moves_on_a_discrete_space_are_skipped_with_the_space_s_refusal(grid):
    settings = PerturbationSettings(images=4, sigmas=[0.5], alphas=[0.5], source_class="4",
                                    target_class="9", centroid_images=20)
    skipped = run_experiments(grid, settings).skipped
    assert set(skipped) == {"perturb", "toward_class", "centroid", "blend"}
    for op, why in skipped.items():  # the space, not "needs an encoder" (the grid has one)
        assert f"the 'poster-grid' model's is {GRID_SPACE}" in why, (op, why)


def test_a_discrete_space_encodes_decodes_and_draws_its_own_prior(grid):
    m, sel = grid.model, grid.select("test", 4)
    z = ops.encode(m, sel.x, sel.y)
    assert z.shape == (4, 4, 4) and z.dtype == torch.long
    images = ops.decode(m, z)
    cells = images[:, 0, ::7, ::7]  # one pixel per cell: its codebook grey
    torch.testing.assert_close(cells, m.codebook[z], rtol=0, atol=0)
    result = ex.grid(grid, 3, prior=True, generator=gen(2))  # any space draws from its prior
    drawn = torch.stack(result.rows).flatten(0, 1)
    codes = torch.randint(8, (9, 4, 4), generator=gen(2))
    torch.testing.assert_close(drawn, ops.decode(m, codes).view(3, 3, 1, 28, 28).flatten(0, 1))


def test_a_shaped_code_is_encoded_and_decoded_in_its_shape(pooled):
    m, sel = pooled.model, pooled.select("test", 4)
    z = ops.encode(m, sel.x, sel.y)
    assert z.shape == (4, 2, 7, 7)
    torch.testing.assert_close(z[:, 0], torch.nn.functional.avg_pool2d(sel.x, 4)[:, 0])
    same = ops.decode(m, z.flatten(1))  # a slider's flat code gets the space's shape back
    assert torch.equal(ops.decode(m, z), same)
    with pytest.raises(ConfigError, match=r"not codes of the latent space continuous \(2, 7, 7\)"):
        ops.decode(m, z.flatten(1)[:, :97])


def test_perturbing_a_shaped_code_moves_every_value_by_its_own_noise(pooled):
    m, sel = pooled.model, pooled.select("test", 3)
    result = ex.perturb(pooled, sel, [0.0, 0.5], gen(3))
    z = ops.encode(m, sel.x, sel.y)
    eps = torch.randn(z.shape, generator=gen(3))  # the experiment's one draw, of the code shape
    torch.testing.assert_close(result.rows[3], ops.decode(m, z + 0.5 * eps))
    assert torch.equal(result.rows[2], result.rows[1])  # sigma 0: the reconstruction
    torch.testing.assert_close(result.numbers["code_shift_norm"],
                               torch.stack([0 * eps, 0.5 * eps]).flatten(2).norm(dim=-1))


def test_slerp_and_centroids_of_shaped_codes_are_those_of_their_values(pooled):
    m, sel = pooled.model, pooled.select("test", 6)
    z = ops.encode(m, sel.x, sel.y)
    z0, z1 = z[:3], z[3:]
    flat = ops.slerp(z0.flatten(1), z1.flatten(1), 5)
    torch.testing.assert_close(ops.slerp(z0, z1, 5), flat.view(5, 3, 2, 7, 7))
    labels = torch.tensor([0, 1, 0, 1, 1, -1])
    centroids, counts = ops.class_centroids(z, labels, 3)
    assert counts.tolist() == [2, 3, 0] and bool(centroids[2].isnan().all())
    torch.testing.assert_close(centroids[1], z[[1, 3, 4]].mean(0))
    flipped = ops.flip_signs(z, torch.tensor([True] + [False] * 5),
                             torch.arange(98) == 60)  # coordinate 60: channel 1, row 1, col 4
    expect = z.clone()
    expect[0] = -expect[0]
    expect[:, 1, 1, 4] = -expect[:, 1, 1, 4]
    assert torch.equal(flipped, expect)


def test_the_moves_of_a_run_keep_shaped_codes_whole(pooled):
    m, sel = pooled.model, pooled.select("test", 3)
    z = ops.encode(m, sel.x, sel.y)
    pool = ex.training_codes(pooled, 300)
    assert pool.codes.shape == (300, 2, 7, 7)
    moved = ex.centroid(pooled, sel, [1.0], pool)
    means, _ = ops.class_centroids(pool.codes, pool.labels, 10)
    torch.testing.assert_close(moved.rows[1], ops.decode(m, means[sel.y]))
    torch.testing.assert_close(moved.numbers["distance_to_centroid"],
                               (z - means[sel.y]).flatten(1).norm(dim=-1))
    path = ex.interpolate(pooled, pooled.select("test", index=[9]), sel, 4, "lerp")
    assert path.numbers["code_norms"].shape == (3, 4)
    torch.testing.assert_close(path.rows[0][1], ops.decode(m, z)[0])  # t = 0: x's own code
    blend = ex.blend(pooled, sel, sel, 0.6, flip_dims=[0])
    flipped = z.clone()
    flipped[:, 0, 0, 0] *= -1
    torch.testing.assert_close(blend.rows[-1], ops.decode(m, 0.6 * z + 0.4 * flipped))
    projected = ex.latent_map(pooled, pooled.select("test", 30), "pca")
    codes = ops.encode(m, *pooled.images("test", torch.tensor(projected.indices)))
    reference = project_2d(codes.flatten(1), "pca")
    torch.testing.assert_close(projected.projection.coords, reference.coords)


def test_a_diffusion_models_x_t_reaches_the_tools_as_an_image():
    cls = MODELS["ddpm"]
    torch.manual_seed(0)
    ddpm = build_model(model_config_class("ddpm")(name="ddpm", **cls.tiny), (1, 8, 8), 10)
    x = torch.rand(2, 1, 8, 8)
    z = ops.encode(ddpm.eval(), x, torch.tensor([3, 4]))
    assert z.shape == (2, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(z, ddpm.encode(x, torch.tensor([3, 4])).view(2, 1, 8, 8))
    torch.testing.assert_close(ops.decode(ddpm, z, torch.tensor([3, 4])),
                               ops.decode(ddpm, z.flatten(1), torch.tensor([3, 4])))
