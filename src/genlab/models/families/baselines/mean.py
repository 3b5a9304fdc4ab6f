"""The class-mean baseline: every sample of class y is the mean training
image of class y. It sets the floor any generative model must beat."""

from __future__ import annotations

import torch
from torch import Tensor

from genlab.models.core.base import Batch, GenerativeModel, LossOutput
from genlab.models.core.config import ModelConfig
from genlab.models.core.sampling import SampleOptions


class ClassMean(GenerativeModel):
    """Class-mean baseline: a sample of class y is the mean training image of class y."""

    closed_form = True
    conditional = True

    def __init__(self, config: ModelConfig, shape: tuple[int, int, int], num_classes: int):
        super().__init__(config, shape, num_classes)
        self.register_buffer("means", torch.zeros(num_classes, *shape))

    def fit(self, x: Tensor, y: Tensor) -> dict[str, float]:
        sums = torch.zeros_like(self.means).index_add_(0, y, x.to(self.means))
        counts = torch.bincount(y, minlength=self.num_classes).clamp_min(1)
        self.means.copy_(sums / counts.view(-1, 1, 1, 1).to(sums))
        return {"classes_seen": float((torch.bincount(y, minlength=self.num_classes) > 0).sum())}

    def sample(
        self,
        n: int,
        labels: Tensor | None = None,
        generator: torch.Generator | None = None,
        mean: bool = True,
        options: SampleOptions | None = None,
    ) -> Tensor:
        return self.means[self.labels_for(n, labels)].clamp(0, 1)

    def reconstruct(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """The mean of x's class, or of the nearest class mean when x has no label."""
        if y is None:
            dist = torch.cdist(x.flatten(1), self.means.flatten(1))
            y = dist.argmin(1)
        return self.means[y]

    def loss(self, batch: Batch) -> LossOutput:
        mse = (self.means[batch.y] - batch.x).pow(2).flatten(1).sum(1).mean()
        return LossOutput(mse, {"mse": mse})
