"""Mini-batches straight from in-memory tensors: one permutation per epoch, one gather per batch."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from genlab.data.errors import DataError


class BatchIterator:
    """Iterate ``(t1[idx], t2[idx], ...)`` over aligned tensors in batches (always copies).

    Each ``iter()`` is one epoch and draws a fresh permutation from ``generator``. With
    ``world_size > 1`` every rank must pass an identically seeded generator: the permutation is
    truncated to a multiple of ``world_size`` and rank r takes ``perm[r::world_size]``, so ranks
    see disjoint samples and the same number of batches.
    """

    def __init__(
        self,
        *tensors: torch.Tensor,
        batch_size: int,
        shuffle: bool = True,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if not tensors:
            raise DataError("BatchIterator needs at least one tensor")
        n = len(tensors[0])
        if any(len(t) != n for t in tensors):
            raise DataError(f"tensors differ in length: {[len(t) for t in tensors]}")
        if batch_size < 1:
            raise DataError(f"batch_size must be positive, got {batch_size}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise DataError(f"need 0 <= rank < world_size, got rank={rank}, world={world_size}")
        if world_size > 1 and shuffle and generator is None:
            raise DataError(
                "world_size > 1 with shuffle needs a generator seeded alike on every rank"
            )
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.drop_last = drop_last
        self.rank = rank
        self.world_size = world_size

    @property
    def num_samples(self) -> int:
        """Samples this rank sees per epoch."""
        return len(self.tensors[0]) // self.world_size

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def _indices(self) -> torch.Tensor:
        n = len(self.tensors[0])
        perm = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        if self.world_size > 1:
            perm = perm[: self.num_samples * self.world_size][self.rank :: self.world_size]
        return perm

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        idx = self._indices()
        stop = len(self) * self.batch_size
        for start in range(0, stop, self.batch_size):
            batch = idx[start : start + self.batch_size]
            # index_select is t[batch], several times faster for uint8 images on the CPU
            yield tuple(t.index_select(0, batch.to(t.device)) for t in self.tensors)
