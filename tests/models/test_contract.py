"""Contract tests over the whole registry: every valid model x likelihood x backbone."""

from __future__ import annotations

import pytest
import torch

from genlab.models.core.base import Batch, GenerativeModel
from genlab.models.parts.likelihoods import LIKELIHOODS
from genlab.models.registry import MODELS, build_model, model_config_class
from genlab.training.checkpoint import (
    atomic_save,
    model_from_checkpoint,
    model_meta,
    read_checkpoint,
)
from genlab.training.config import RunConfig

SMALL = {"hidden": [32], "channels": [8, 16], "res_blocks": 1, "latent_dim": 4}
VAE_FAMILIES = ["vae", "beta-vae", "cvae", "iwae"]
SHAPES = [(1, 28, 28), (3, 32, 32)]


def _cases() -> list[tuple[str, dict, tuple[int, int, int]]]:
    cases = []
    for net in ("mlp", "conv", "resnet"):
        for family in VAE_FAMILIES:
            for lik in LIKELIHOODS:
                cases.append((family, {"net": net, "likelihood": lik, "bins": 4}, (1, 28, 28)))
        for loss in ("bce", "mse"):
            cases.append(("ae", {"net": net, "loss": loss}, (1, 28, 28)))
        cases.append(("vae", {"net": net, "likelihood": "gaussian"}, (3, 32, 32)))
    cases.append(
        ("vae", {"net": "resnet", "likelihood": "gaussian", "sigma_mode": "global"}, (3, 64, 64))
    )
    return cases


def make(family: str, options: dict, shape: tuple[int, int, int]) -> GenerativeModel:
    cfg = model_config_class(family)(name=family, **{**SMALL, **options})
    return build_model(cfg, shape, num_classes=10)


def roundtrip(model: GenerativeModel, tmp_path) -> GenerativeModel:
    path = tmp_path / "m.safetensors"
    meta = model_meta(model, RunConfig(model=model.config).to_dict())
    atomic_save(path, {f"model.{k}": v for k, v in model.state_dict().items()}, meta)
    return model_from_checkpoint(read_checkpoint(path), path)


@pytest.mark.parametrize(
    ("family", "options", "shape"), _cases(), ids=lambda v: v if isinstance(v, str) else None
)
def test_gradient_model_contract(family, options, shape, tmp_path):
    torch.manual_seed(0)
    model = make(family, options, shape)
    x = torch.rand(6, *shape)
    if options.get("likelihood") == "bernoulli" or options.get("loss") == "bce":
        x = (x > 0.5).float()
    y = torch.arange(6) % 10
    out = model.loss(Batch(x, y))
    assert out.total.ndim == 0 and torch.isfinite(out.total)
    assert all(torch.isfinite(v) for v in out.terms.values())
    out.total.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)

    model.eval()
    with torch.no_grad():
        samples = model.sample(5, labels=torch.tensor([3]))
        recon = model.reconstruct(x, y)
    assert samples.shape == (5, *shape) and recon.shape == x.shape
    assert samples.min() >= 0 and samples.max() <= 1

    loaded = roundtrip(model, tmp_path)
    z = torch.randn(3, model.latent_dim)
    labels = torch.zeros(3, dtype=torch.long) if model.conditional else None
    with torch.no_grad():
        assert torch.allclose(model.decode(z, labels).mean, loaded.decode(z, labels).mean)

    # one small normalised gradient step lowers the loss on the same batch (same noise)
    model.train()
    torch.manual_seed(1)
    before = model.loss(Batch(x, y)).total
    model.zero_grad()
    before.backward()
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.sqrt(sum((p.grad**2).sum() for p in params))
    with torch.no_grad():
        for p in params:
            p -= 1e-3 * p.grad / norm
    torch.manual_seed(1)
    after = model.loss(Batch(x, y)).total
    assert float(after.detach()) < float(before.detach())


@pytest.mark.parametrize("family", ["pca", "mean"])
def test_closed_form_contract(family, tmp_path):
    torch.manual_seed(0)
    cfg = model_config_class(family)(name=family)
    if family == "pca":
        cfg.latent_dim = 5
    model = build_model(cfg, (1, 8, 8), num_classes=3)
    x, y = torch.rand(60, 1, 8, 8), torch.arange(60) % 3
    summary = model.fit(x, y)
    assert summary
    samples = model.sample(7, labels=torch.tensor([1]))
    assert samples.shape == (7, 1, 8, 8) and samples.min() >= 0 and samples.max() <= 1
    loss = model.loss(Batch(x, y))
    assert torch.isfinite(loss.total)
    loaded = roundtrip(model, tmp_path)
    assert torch.allclose(loaded.reconstruct(x, y), model.reconstruct(x, y))


def test_registry_covers_the_issue():
    assert {"mean", "pca", "ae", "vae", "cvae", "iwae"} <= set(MODELS)
    assert {"bernoulli", "gaussian", "beta", "categorical", "continuous-bernoulli"} <= set(
        LIKELIHOODS
    )
