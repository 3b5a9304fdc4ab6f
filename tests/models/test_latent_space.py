"""The declared latent space: its one-line description, its checks, and every family's
declaration (shape, kind, prior draw) against what the family's decoder and prior do."""

from __future__ import annotations

import pytest
import torch

from genlab.errors import ConfigError
from genlab.models.core.capabilities import Decoder, has
from genlab.models.core.latent_space import (
    ANY_SPACE,
    CONTINUOUS,
    PLANE,
    LatentSpace,
    SpaceNeeds,
    require_space,
)
from genlab.models.registry import MODELS, build_model, model_config_class

SHAPE = (1, 8, 8)


def _space(shape: tuple[int, ...], kind: str = "continuous", levels: int = 0) -> LatentSpace:
    def draw(n: int, generator: torch.Generator | None) -> torch.Tensor:
        return torch.zeros(n, *shape)

    return LatentSpace(shape, kind, levels, prior=draw)  # type: ignore[arg-type]


def _tiny(family: str, shape: tuple[int, int, int] = SHAPE):
    """A family's tiny instance; one built on other runs gets tiny (untrained) instances of
    the families its ``tiny`` options name as its components."""
    cls = MODELS[family]
    options = dict(cls.tiny)
    components = {spec.field: _tiny(options.pop(spec.field), shape)
                  for spec in cls.component_specs}
    torch.manual_seed(0)
    config = model_config_class(family)(name=family, **options)
    return build_model(config, shape, 10, components or None).eval()


def test_a_space_describes_itself_in_one_line():
    assert _space((16,)).describe() == "continuous (16,)"
    assert _space((1, 28, 28)).describe() == "continuous (1, 28, 28)"
    assert _space((8, 8), "discrete", 512).describe() == "discrete 8x8 grid of 512 codes"
    assert _space((32,), "discrete", 16).describe() == "discrete 32 positions of 16 codes"
    assert _space((3, 4, 5)).size == 60 and _space((7,)).flat and not _space((2, 3)).flat


@pytest.mark.parametrize(("args", "words"), [
    (((), "continuous", 0), "one or more positive sizes"),
    (((4, 0), "continuous", 0), "one or more positive sizes"),
    (((4,), "gaussian", 0), "continuous or discrete, got 'gaussian'"),
    (((4,), "continuous", 8), "has no codebook"),
    (((4,), "discrete", 1), "at least 2 codes"),
])
def test_a_bad_declaration_is_refused(args, words):
    with pytest.raises(ConfigError, match=words):
        _space(*args)


def test_codes_take_the_space_shape_from_any_layout_of_their_values():
    space = _space((2, 3, 4))
    z = torch.arange(2 * 24.0).view(2, 24)
    shaped = space.shaped(z)
    assert shaped.shape == (2, 2, 3, 4)
    assert torch.equal(shaped[1, 1, 2], z[1, 12 + 8:12 + 12])  # C order: channel, row, column
    assert torch.equal(space.shaped(shaped), shaped)
    with pytest.raises(ConfigError, match=r"codes of shape \(2, 23\) are not codes of the "
                                          r"latent space continuous \(2, 3, 4\)"):
        space.shaped(z[:, :23])


def test_a_prior_that_draws_the_wrong_shape_is_caught():
    space = LatentSpace((4,), prior=lambda n, g: torch.zeros(n, 5))
    with pytest.raises(ConfigError, match=r"drew codes of shape \(3, 5\), not \(3, 4\)"):
        space.sample(3)


def test_needs_are_met_only_by_the_spaces_that_offer_them():
    flat2, flat3, grid = _space((2,)), _space((3,)), _space((1, 2))
    discrete = _space((2,), "discrete", 4)
    assert all(ANY_SPACE.met_by(s) for s in (flat2, flat3, grid, discrete))
    assert [CONTINUOUS.met_by(s) for s in (flat2, grid, discrete)] == [True, True, False]
    assert [PLANE.met_by(s) for s in (flat2, flat3, grid, discrete)] == [True, False, False, False]
    assert SpaceNeeds(flat_dims=2).met_by(discrete)


def test_require_space_refuses_in_one_line_naming_the_space():
    vae, mean = _tiny("vae"), _tiny("mean")
    assert require_space(vae, "perturb", CONTINUOUS) == vae.latent_space
    with pytest.raises(ConfigError) as refused:
        require_space(vae, "the manifold grid", PLANE, "use --prior")
    assert str(refused.value) == ("the manifold grid needs a flat, continuous 2-D latent space, "
                                  "but the 'vae' model's is continuous (4,) (use --prior)")
    with pytest.raises(ConfigError, match="perturb needs a latent space, but the 'mean' model "
                                          "has no latent space"):
        require_space(mean, "perturb", ANY_SPACE)


LATENT = [f for f in MODELS if has(_tiny(f), Decoder)]


@pytest.mark.parametrize("family", LATENT)
def test_every_latent_family_declares_the_space_its_prior_and_decoder_use(family):
    m = _tiny(family)
    space = m.latent_space
    assert m.latent_dim == space.size
    z = space.sample(3, torch.Generator().manual_seed(1))
    if space.continuous:
        assert m.prior().event_shape == (space.size,)  # p(z) of the flattened code
    else:  # indices into the codebook (vqvae-pixelcnn: no closed-form prior)
        assert not z.is_floating_point() and int(z.min()) >= 0 and int(z.max()) < space.levels
    again = m.sample_prior(3, torch.Generator().manual_seed(1))
    assert z.shape == (3, *space.shape) and torch.equal(z, again)
    y = torch.arange(3) if m.conditional else None
    with torch.no_grad():
        assert m.decode(z, y).mean.shape == (3, *SHAPE)
    assert m.describe()["latent_space"] == space.describe()


def test_the_declared_shapes_of_diffusion_flow_and_flat_families():
    shape = (3, 8, 8)
    assert _tiny("ddpm", shape).latent_space.shape == shape  # x_T, an image
    assert _tiny("realnvp", shape).latent_space.shape == (192,)  # the scales' parts, joined
    assert _tiny("dcgan").latent_space.shape == (MODELS["dcgan"].tiny["latent_dim"],)
    for family in ("mean", "pixelcnn"):
        assert family not in LATENT and _tiny(family).describe()["latent_space"] is None


def test_pca_and_ae_spaces_draw_from_their_fitted_priors():
    x = torch.rand(500, *SHAPE) * torch.linspace(0.2, 1, 64).view(1, *SHAPE)
    pca = _tiny("pca")
    pca.fit(x, torch.zeros(500, dtype=torch.long))
    ae = _tiny("ae")
    ae.fit_prior(x, torch.zeros(500, dtype=torch.long))
    for m, loc, scale in ((pca, 0.0, pca.variances.sqrt()), (ae, ae.code_mean, ae.code_std)):
        z = m.latent_space.sample(40_000, torch.Generator().manual_seed(0))
        torch.testing.assert_close(z.mean(0), loc + 0 * scale, atol=0.03 * scale.max().item(),
                                   rtol=0)
        torch.testing.assert_close(z.std(0), scale, rtol=0.02, atol=0)


@pytest.mark.parametrize("family", list(MODELS))
def test_a_familys_capabilities_are_known_before_an_instance_is_built(family: str) -> None:
    """``family_has`` on the class (a study's plan) agrees with ``has`` on an instance."""
    from genlab.models.core.capabilities import Encoder, HasLikelihood, family_has

    model = _tiny(family)
    for capability in (Decoder, Encoder, HasLikelihood):
        assert family_has(MODELS[family], capability) == has(model, capability), capability
