"""Vector quantisation with a codebook learnt by exponential moving averages (van den Oord et
al. 2017, "Neural Discrete Representation Learning", 3.1 and appendix A.1; Razavi et al. 2019).

Each D-dim vector z_e of an encoder's grid is replaced by its nearest codebook entry e_k,
k = argmin_j ||z_e - e_j||^2. The codebook gets no gradient: after each training step every
entry moves to the running mean of the vectors assigned to it,

    N_k <- g N_k + (1 - g) n_k,   m_k <- g m_k + (1 - g) sum_{z_e -> k} z_e,   e_k = m_k / N~_k,

with decay g and the counts Laplace-smoothed, N~_k = (N_k + eps) / (N + K eps) N (N = sum N_k),
so that an entry nothing was assigned to lately does not divide by zero. An entry unused for
``restart_after`` consecutive steps is dead: it restarts at a random encoder output of the
current batch (the codebook resets of Dhariwal et al. 2020's Jukebox), so the codebook does not
collapse onto a few entries. The codebook starts N(0, 1) with each entry counted once at its
own value (N_k = 1, m_k = e_k) and every entry counted idle for ``restart_after - 1`` steps:
the entries the first batch does not use restart at once from its encoder outputs, a data
initialisation.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class EMAQuantiser(nn.Module):
    """A codebook of ``codes`` entries of ``dim`` coordinates, learnt by EMA updates with
    ``decay`` and Laplace smoothing ``epsilon``; dead entries restart after ``restart_after``
    idle steps (0: never)."""

    def __init__(self, codes: int, dim: int, decay: float, epsilon: float, restart_after: int):
        super().__init__()
        self.decay, self.epsilon, self.restart_after = decay, epsilon, restart_after
        codebook = torch.randn(codes, dim)
        self.register_buffer("codebook", codebook)
        self.register_buffer("ema_count", torch.ones(codes))
        self.register_buffer("ema_sum", codebook.clone())
        self.register_buffer("idle", torch.full((codes,), max(restart_after - 1, 0)))

    @property
    def codes(self) -> int:
        return len(self.codebook)

    @staticmethod
    def _rows(z_e: Tensor) -> Tensor:
        """The grid's vectors (N, D, h, w) as rows (N h w, D), in fp32."""
        return z_e.permute(0, 2, 3, 1).reshape(-1, z_e.shape[1]).float()

    def nearest(self, z_e: Tensor) -> Tensor:
        """The index of the nearest entry of each vector of ``z_e`` (N, D, h, w): (N, h, w)."""
        rows = self._rows(z_e)
        e = self.codebook
        dist = rows.square().sum(1, keepdim=True) - 2 * rows @ e.T + e.square().sum(1)
        return dist.argmin(1).view(z_e.shape[0], *z_e.shape[2:])

    def lookup(self, indices: Tensor) -> Tensor:
        """The entries of a grid of indices (N, h, w): z_q, (N, D, h, w)."""
        return F.embedding(indices.long(), self.codebook).permute(0, 3, 1, 2)

    @torch.no_grad()
    def update(self, z_e: Tensor, indices: Tensor) -> int:
        """One EMA step of the codebook towards the vectors ``z_e`` assigned ``indices``, then
        the dead entries' restarts; returns how many entries restarted."""
        rows, flat = self._rows(z_e), indices.flatten()
        counts = torch.bincount(flat, minlength=self.codes).to(rows)
        sums = torch.zeros_like(self.ema_sum).index_add_(0, flat, rows)
        self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        total = self.ema_count.sum()
        smoothed = (self.ema_count + self.epsilon) / (total + self.codes * self.epsilon) * total
        self.codebook.copy_(self.ema_sum / smoothed[:, None])
        return self._restart(rows, counts > 0) if self.restart_after else 0

    def _restart(self, rows: Tensor, used: Tensor) -> int:
        """Entries idle for ``restart_after`` steps take random rows of this batch, counted
        once (N_k = 1, m_k = e_k); the draw is from the global RNG (a resumed run repeats it)."""
        self.idle.add_(1).masked_fill_(used, 0)
        dead = self.idle >= self.restart_after
        n = int(dead.sum())
        if n:
            fresh = rows[torch.randint(len(rows), (n,), device=rows.device)]
            self.codebook[dead] = fresh
            self.ema_sum[dead] = fresh
            self.ema_count[dead] = 1.0
            self.idle[dead] = 0
        return n
