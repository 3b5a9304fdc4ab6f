"""The EMA vector quantiser (``parts.quantiser``): nearest codes against a brute-force search,
one EMA step against the formulas of van den Oord et al. 2017 (appendix A.1) computed by hand,
its fixed point (the means of the vectors assigned to each entry, k-means), and dead-entry
restarts."""

from __future__ import annotations

import torch

from genlab.models.parts.quantiser import EMAQuantiser


def _grid(rows: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Rows (N h w, D) as a grid (N, D, h, w), the layout the encoder gives."""
    return rows.view(-1, h, w, rows.shape[1]).permute(0, 3, 1, 2)


def test_nearest_is_the_brute_force_argmin_and_lookup_its_entries() -> None:
    torch.manual_seed(0)
    q = EMAQuantiser(codes=7, dim=3, decay=0.9, epsilon=1e-5, restart_after=0)
    z_e = torch.randn(4, 3, 5, 6)
    indices = q.nearest(z_e)
    rows = z_e.permute(0, 2, 3, 1).reshape(-1, 3)
    expected = torch.cdist(rows.double(), q.codebook.double()).argmin(1).view(4, 5, 6)
    assert torch.equal(indices, expected)
    z_q = q.lookup(indices)
    assert z_q.shape == z_e.shape
    assert torch.equal(z_q[1, :, 2, 3], q.codebook[indices[1, 2, 3]])


def test_one_ema_step_is_the_papers_update_with_laplace_smoothing() -> None:
    torch.manual_seed(1)
    g, eps, k = 0.8, 0.5, 4
    q = EMAQuantiser(codes=k, dim=2, decay=g, epsilon=eps, restart_after=0)
    start = q.codebook.clone()
    rows = torch.randn(6, 2)
    indices = torch.tensor([0, 0, 2, 2, 2, 3])
    q.update(_grid(rows, 2, 3), indices.view(1, 2, 3))
    counts = torch.tensor([2.0, 0.0, 3.0, 1.0])
    sums = torch.stack([rows[:2].sum(0), torch.zeros(2), rows[2:5].sum(0), rows[5]])
    n_k = g * 1.0 + (1 - g) * counts  # every entry starts counted once at its own value
    m_k = g * start + (1 - g) * sums
    total = n_k.sum()
    smoothed = (n_k + eps) / (total + k * eps) * total
    torch.testing.assert_close(q.ema_count, n_k)
    torch.testing.assert_close(q.codebook, m_k / smoothed[:, None])


def test_repeated_steps_converge_to_the_means_of_the_assigned_vectors() -> None:
    """The EMA's fixed point: each used entry at the mean of its vectors (a k-means step)."""
    torch.manual_seed(2)
    centres = torch.tensor([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0]])
    rows = (centres.repeat_interleave(20, 0) + 0.3 * torch.randn(60, 2))
    q = EMAQuantiser(codes=3, dim=2, decay=0.9, epsilon=1e-5, restart_after=0)
    q.codebook.copy_(centres + 0.5)
    q.ema_sum.copy_(q.codebook)
    z_e = _grid(rows, 6, 10)
    for _ in range(300):
        q.update(z_e, q.nearest(z_e))
    means = rows.view(3, 20, 2).mean(1)
    torch.testing.assert_close(q.codebook, means, atol=1e-3, rtol=0)


def test_entries_unused_for_the_window_restart_at_encoder_outputs() -> None:
    torch.manual_seed(3)
    q = EMAQuantiser(codes=5, dim=2, decay=0.9, epsilon=1e-5, restart_after=3)
    rows = torch.randn(4, 2)
    z_e, used = _grid(rows, 2, 2), torch.tensor([0, 0, 1, 1]).view(1, 2, 2)
    # The first step: every entry counted idle for restart_after - 1 steps, so the three the
    # batch does not use restart at once, at rows of the batch (a data initialisation).
    assert q.update(z_e, used) == 3
    for entry in (2, 3, 4):
        assert any(torch.equal(q.codebook[entry], row) for row in rows)
        assert q.ema_count[entry] == 1 and torch.equal(q.ema_sum[entry], q.codebook[entry])
    assert q.idle.tolist() == [0, 0, 0, 0, 0]
    # Then only entry 0 is used: the other four restart after three more steps, 0 never does.
    only_0 = torch.zeros(1, 2, 2, dtype=torch.long)
    assert [q.update(z_e, only_0) for _ in range(3)] == [0, 0, 4]
    assert q.idle.tolist() == [0, 0, 0, 0, 0]


def test_restarts_off_keep_every_entry() -> None:
    torch.manual_seed(4)
    q = EMAQuantiser(codes=5, dim=2, decay=0.9, epsilon=1e-5, restart_after=0)
    z_e = _grid(torch.randn(4, 2), 2, 2)
    before = q.codebook.clone()
    for _ in range(5):
        assert q.update(z_e, torch.zeros(1, 2, 2, dtype=torch.long)) == 0
    # an unused entry only shrinks towards zero: m_k and N_k both decay by g each step
    assert torch.all(q.codebook[1:].norm(dim=1) < before[1:].norm(dim=1))
