"""Two test-only latent families whose spaces are not flat Gaussians, for the tools that read a
declared latent space (a module at the tests' root, so every test folder can import it).

``PosterGrid`` is a vector quantiser with a scalar codebook (van den Oord et al. 2017, in
miniature): each 7 x 7 cell of an image is coded by the index of the nearest of ``levels`` grey
values, a discrete 4 x 4 grid of codes for MNIST. ``PooledCode`` has a continuous (2, 7, 7)
code, both channels the image's 4 x 4 average pool; its decoder upsamples 0.75 of channel 0
plus 0.25 of channel 1 and takes codes of exactly that shape, so a tool that flattens or
reorders a code is caught.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import Tensor
from torch.distributions import Categorical, Distribution, Independent
from torch.nn import functional as F

from genlab.models.core.base import Batch, EncoderDecoderModel, LossOutput
from genlab.models.core.config import ModelConfig
from genlab.models.core.latent_space import LatentSpace
from genlab.models.core.pixels import INVERSION_SIGMA
from genlab.models.parts.likelihoods import ImplicitPixels
from genlab.models.registry import MODELS, build_model
from genlab.runs import Run
from genlab.training.config import config_from_dict

CELL = 7
POOL = 4
GRID_SPACE = "discrete 4x4 grid of 8 codes"
"""What ``PosterGrid`` on 28 x 28 images says of its space in refusals."""


@dataclass
class GridConfig(ModelConfig):
    levels: int = 8


class PosterGrid(EncoderDecoderModel):
    """Cells of 7 x 7 pixels coded by the nearest of ``levels`` grey values (the codebook: the
    quantiles of the training cells' means, fitted in closed form); the prior is uniform."""

    config_class = GridConfig
    closed_form = True

    def __init__(self, config: GridConfig, shape: tuple[int, int, int], num_classes: int):
        super().__init__(config, shape, num_classes)
        self.grid = (shape[1] // CELL, shape[2] // CELL)
        self.register_buffer("codebook", torch.linspace(0, 1, config.levels))

    @property
    def latent_space(self) -> LatentSpace:
        return LatentSpace(self.grid, "discrete", self.config.levels, prior=self.sample_prior)

    def prior(self) -> Distribution:
        logits = torch.zeros(*self.grid, self.config.levels, device=self.device)
        return Independent(Categorical(logits=logits), 2)

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.randint(self.config.levels, (n, *self.grid), generator=generator)

    def _cells(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x.mean(1, keepdim=True), CELL).squeeze(1)

    def encode(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return (self._cells(x).unsqueeze(-1) - self.codebook).abs().argmin(-1)

    def decode(self, z: Tensor, y: Tensor | None = None) -> ImplicitPixels:
        grey = self.codebook[z.long()].repeat_interleave(CELL, 1).repeat_interleave(CELL, 2)
        return ImplicitPixels(grey.unsqueeze(1).expand(-1, self.shape[0], -1, -1),
                              INVERSION_SIGMA)

    def fit(self, x: Tensor, y: Tensor) -> dict[str, float]:
        cells = self._cells(x).flatten()
        self.codebook.copy_(torch.quantile(cells, torch.linspace(0, 1, self.config.levels)))
        return {"levels": float(self.config.levels)}

    def loss(self, batch: Batch) -> LossOutput:
        mse = (self.reconstruct(batch.x) - batch.x).square().flatten(1).sum(1).mean()
        return LossOutput(mse, {"mse": mse})


class PooledCode(EncoderDecoderModel):
    """A continuous (2, H/4, W/4) code: the 4 x 4 average pool of the image, twice."""

    def __init__(self, config: ModelConfig, shape: tuple[int, int, int], num_classes: int):
        super().__init__(config, shape, num_classes)
        self.code_shape = (2, shape[1] // POOL, shape[2] // POOL)

    @property
    def latent_space(self) -> LatentSpace:
        return LatentSpace(self.code_shape, prior=self.sample_prior)

    def encode(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        pooled = F.avg_pool2d(x.mean(1, keepdim=True), POOL)
        return torch.cat([pooled, pooled], dim=1)

    def decode(self, z: Tensor, y: Tensor | None = None) -> ImplicitPixels:
        if tuple(z.shape[1:]) != self.code_shape:
            raise AssertionError(f"decode takes (N, *{self.code_shape}) codes, got {z.shape}")
        mixed = 0.75 * z[:, :1] + 0.25 * z[:, 1:]
        image = mixed.repeat_interleave(POOL, 2).repeat_interleave(POOL, 3)
        return ImplicitPixels(image.expand(-1, self.shape[0], -1, -1), INVERSION_SIGMA)


FAKES = {"poster-grid": PosterGrid, "pooled-code": PooledCode}


@pytest.fixture(scope="module")
def fake_families() -> Iterator[None]:
    """Both families in the registry for the module's tests (runs name them in their config)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, cls in FAKES.items():
            patch.setitem(MODELS, name, cls)
        yield


def in_memory(name: str, folder: Path) -> Run:
    """A run of a fake family on mnist-mini built in memory; ``PosterGrid`` fitted to 2,000
    training images. Needs ``fake_families``."""
    config = config_from_dict({"model": {"name": name}, "data": {"dataset": "mnist-mini"}})
    model = build_model(config.model, (1, 28, 28), 10).eval()
    run = Run(model, config, folder / f"{name}.safetensors", {})
    if model.closed_form:
        x, y = run.images(config.data.train_split, torch.arange(2000))
        model.fit(x, y)
    return run
