"""``Run.spread`` (the images evaluations and study figures use, spread over a split),
``Run.spanning`` (the default selection of the CLI and the explorer) and ``Run.sample``'s
seeding."""

from __future__ import annotations

from pathlib import Path

import torch

from genlab.models.registry import build_model
from genlab.runs import Run, interleaved
from genlab.training.config import config_from_dict


def a_run(tmp_path: Path) -> Run:
    config = config_from_dict({"model": {"name": "vae", "hidden": [8], "latent_dim": 2},
                               "data": {"dataset": "mnist-mini"}})
    return Run(build_model(config.model, (1, 28, 28), 10), config, tmp_path / "x.safetensors", {})


def test_spread_is_a_seeded_sorted_subset_reaching_past_the_first_images(tmp_path) -> None:
    run = a_run(tmp_path)
    size = len(run.dataset.split("test"))
    picked = run.spread("test", 50, seed=1)
    assert picked == sorted(set(picked)) and len(picked) == 50
    assert picked[0] >= 0 and picked[-1] < size and picked[-1] > size // 2
    assert run.spread("test", 50, seed=1) == picked != run.spread("test", 50, seed=2)
    assert run.spread("test", size + 5) == list(range(size))
    # an image folder's split is sorted by class: the first 50 would all be one class
    by_class = run.dataset.split("test").labels.sort().values
    assert len(set(by_class[:50].tolist())) == 1
    assert len(set(by_class[torch.tensor(picked)].tolist())) >= 8


def test_interleaved_takes_the_classes_in_turn() -> None:
    labels = torch.tensor([2, 0, 0, 1, 1, 1, 0])
    assert interleaved(labels, 7).tolist() == [1, 3, 0, 2, 4, 6, 5]
    assert interleaved(labels, 2).tolist() == [1, 3]
    assert interleaved(torch.full((4,), -1), 3).tolist() == [0, 1, 2]  # unlabelled images
    assert interleaved(torch.zeros(0, dtype=torch.long), 3).tolist() == []


def test_the_default_selection_spans_the_classes_of_a_class_sorted_split(tmp_path) -> None:
    run = a_run(tmp_path)
    split = run.dataset.split("test")
    order = split.labels.argsort(stable=True)  # what an image folder's class-sorted tree is
    run.dataset.splits["test"] = type(split)(split.images[order], split.labels[order])
    sel = run.select("test", n=20)
    assert sorted(sel.y.tolist()) == sorted(list(range(10)) * 2)
    assert sel.source["indices"] == run.spanning("test", 20)
    assert run.select("test", n=3, cls="7").y.tolist() == [7, 7, 7]


def test_sample_is_seeded_and_leaves_the_callers_rng_alone(tmp_path) -> None:
    """Pixel draws (mean=False) come from the global RNG, seeded for the call and restored."""
    run = a_run(tmp_path)
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    drawn = run.sample(6, seed=4, mean=False)
    assert torch.equal(torch.rand(3), expected_next)  # the caller's stream is untouched
    assert torch.equal(run.sample(6, seed=4, mean=False), drawn)
    assert not torch.equal(run.sample(6, seed=5, mean=False), drawn)
    assert set(drawn.unique().tolist()) <= {0.0, 1.0}  # Bernoulli pixel draws


def test_training_codes_span_the_classes_of_a_class_sorted_training_split(tmp_path) -> None:
    """Class centroids and target classes come from codes of every class, also when the
    training split is sorted by class (an image folder)."""
    from genlab.latent.moves import training_codes

    run = a_run(tmp_path)
    split = run.dataset.split("train")
    order = split.labels.argsort(stable=True)
    run.dataset.splits["train"] = type(split)(split.images[order], split.labels[order])
    pool = training_codes(run, limit=500)
    assert len(pool.codes) == 500 and set(pool.labels.tolist()) == set(range(10))
