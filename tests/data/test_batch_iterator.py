import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from genlab.data import BatchIterator, DataError


def _epoch(it: BatchIterator) -> list[int]:
    return [int(v) for (batch,) in it for v in batch]


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 60),
    batch_size=st.integers(1, 17),
    world_size=st.integers(1, 4),
    drop_last=st.booleans(),
)
def test_coverage_and_sharding(n: int, batch_size: int, world_size: int, drop_last: bool) -> None:
    data = torch.arange(n)
    per_rank = []
    for rank in range(world_size):
        it = BatchIterator(
            data,
            batch_size=batch_size,
            generator=torch.Generator().manual_seed(5),
            drop_last=drop_last,
            rank=rank,
            world_size=world_size,
        )
        batches = list(it)
        assert len(batches) == len(it)
        assert all(len(b[0]) == batch_size for b in batches[:-1])
        if drop_last:
            assert all(len(b[0]) == batch_size for b in batches)
        per_rank.append([int(v) for b in batches for v in b[0]])
    assert len({len(r) for r in per_rank}) == 1  # equal shares, so equal batch counts
    seen = [v for r in per_rank for v in r]
    assert len(seen) == len(set(seen))  # disjoint ranks, no repeats
    usable = n // world_size
    if not drop_last:
        assert all(len(r) == usable for r in per_rank)
        if world_size == 1:
            assert sorted(seen) == list(range(n))  # every index exactly once


def test_equal_batch_counts_across_ranks() -> None:
    gen = torch.Generator().manual_seed(0)
    lengths = {
        len(BatchIterator(torch.arange(10), batch_size=2, generator=gen, rank=r, world_size=3))
        for r in range(3)
    }
    assert lengths == {2}  # 10 -> 9 -> 3 per rank -> 2 batches each


def test_new_permutation_per_epoch_and_deterministic() -> None:
    it = BatchIterator(torch.arange(100), batch_size=10, generator=torch.Generator().manual_seed(1))
    first, second = _epoch(it), _epoch(it)
    assert sorted(first) == sorted(second) == list(range(100)) and first != second
    again = BatchIterator(
        torch.arange(100), batch_size=10, generator=torch.Generator().manual_seed(1)
    )
    assert _epoch(again) == first


def test_tensors_stay_aligned_and_batches_are_copies() -> None:
    x = torch.arange(20).view(10, 2)
    y = torch.arange(10) * 7
    for xb, yb in BatchIterator(x, y, batch_size=3):
        assert torch.equal(xb[:, 0] // 2 * 7, yb)
        xb.zero_()
    assert torch.equal(x, torch.arange(20).view(10, 2))


def test_no_shuffle_and_drop_last() -> None:
    it = BatchIterator(torch.arange(7), batch_size=3, shuffle=False)
    assert [b[0].tolist() for b in it] == [[0, 1, 2], [3, 4, 5], [6]]
    it = BatchIterator(torch.arange(7), batch_size=3, shuffle=False, drop_last=True)
    assert len(it) == 2 and [b[0].tolist() for b in it] == [[0, 1, 2], [3, 4, 5]]


def test_bad_arguments() -> None:
    with pytest.raises(DataError, match="differ in length"):
        BatchIterator(torch.zeros(3), torch.zeros(4), batch_size=2)
    with pytest.raises(DataError, match="batch_size"):
        BatchIterator(torch.zeros(3), batch_size=0)
    with pytest.raises(DataError, match="rank"):
        BatchIterator(torch.zeros(3), batch_size=1, rank=2, world_size=2)
    with pytest.raises(DataError, match="generator"):
        BatchIterator(torch.zeros(3), batch_size=1, rank=0, world_size=2)
    with pytest.raises(DataError, match="at least one tensor"):
        BatchIterator(batch_size=1)
